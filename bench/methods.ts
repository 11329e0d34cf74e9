/**
 * Per adapter method, one linear layer's forward + backward with the method's own kernels
 * ("fused": ΔW never formed, gradients reach the method's parameters without the dense dΔW),
 * against the same step composed from plain GEMMs and element-wise ops ("composed": materialise
 * ΔW, merge it into W, run the dense layer forward and backward including the O×I weight gradient
 * dΔW = dYᵀ·x, then the chain rule from dΔW to the method's parameters).
 *
 * Both paths compute y = x·(W+ΔW)ᵀ, dx = dY·(W+ΔW) and the gradients of the method's trainable
 * tensors from the same inputs, and after timing their results are compared: the composed path is
 * an independent reference for the fused kernels at full size.
 */
import type { GpuContext } from '../src/gpu/context';
import { matmul } from '../src/engine/ops/matmul';
import { randomTensor } from '../src/engine/randomTensor';
import { Tensor } from '../src/engine/tensor';
import { METHODS } from '../src/methods/registry';
import { FlopCounter, uniform, type BenchSetup, type MethodOnLayer } from '../src/methods/benchTypes';
import type { BenchOptions, LayerShape } from './config';
import { row, type BenchRow, type Skipped } from './report';
import { timeSteps, unprofiled } from './timing';

/** The methods with a benchmark setup (their config.ts's `bench`), in registry order. */
export const METHOD_IDS: readonly string[] = Object.values(METHODS)
  .filter((m) => m.bench)
  .map((m) => m.id);

async function setupOf(id: string): Promise<BenchSetup> {
  const load = Object.values(METHODS).find((m) => m.id === id)?.bench;
  if (!load) throw new Error(`${id} has no benchmark setup`);
  return (await load()).default;
}

/** max |a − b| / max |b| over all values: 0 when identical, about 1e-6 for f32 rounding differences. */
export function relativeDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  if (!Number.isFinite(diff)) return Infinity;
  return scale === 0 ? diff : diff / scale;
}

/** Above this, fused and composed disagree by more than f32 rounding over these sums explains. */
export const AGREEMENT_TOLERANCE = 1e-3;

export async function benchMethods(
  ctx: GpuContext,
  T: number,
  shapes: LayerShape[],
  opts: BenchOptions,
  log: (line: string) => void,
): Promise<{ rows: BenchRow[]; skipped: Skipped[] }> {
  const rows: BenchRow[] = [];
  const skipped: Skipped[] = [];
  const wanted = opts.methods ?? [...METHOD_IDS];
  for (const name of wanted) {
    if (!(METHOD_IDS as readonly string[]).includes(name)) {
      skipped.push({ suite: 'methods', name, reason: `unknown method; the benchmark knows ${METHOD_IDS.join(', ')}` });
    }
  }
  const methods = METHOD_IDS.filter((m) => wanted.includes(m));
  for (const l of shapes) {
    const x = randomTensor(ctx, [T, l.in], 2, 1, uniform(-1, 1), 'x');
    const W = randomTensor(ctx, [l.out, l.in], 2, 2, uniform(-1 / Math.sqrt(l.in), 1 / Math.sqrt(l.in)), 'W');
    const dY = randomTensor(ctx, [T, l.out], 2, 3, uniform(-1, 1), 'dY');
    for (const name of methods) {
      let method: MethodOnLayer | undefined;
      const outs = {
        yF: Tensor.empty(ctx, [T, l.out], 'y_fused'),
        dxF: Tensor.empty(ctx, [T, l.in], 'dx_fused'),
        yC: Tensor.empty(ctx, [T, l.out], 'y_composed'),
        dxC: Tensor.empty(ctx, [T, l.in], 'dx_composed'),
        Wm: Tensor.empty(ctx, [l.out, l.in], 'W_merged'),
        G: Tensor.empty(ctx, [l.out, l.in], 'dDeltaW'),
      };
      let gradsF: Tensor[] = [];
      let gradsC: Tensor[] = [];
      try {
        const setup = await setupOf(name);
        const m = await unprofiled(ctx, () => setup(ctx, l, 3, T));
        method = m;
        const fusedStep = () => {
          for (const t of gradsF) t.release();
          matmul(x, W, { transB: true, out: outs.yF, op: 'base_forward' });
          const saved = m.forward(x, outs.yF);
          matmul(dY, W, { out: outs.dxF, op: 'base_input_grad' });
          gradsF = m.backward(x, dY, outs.dxF, saved);
        };
        const counter = new FlopCounter();
        let composedSteps = 0;
        const composedStep = () => {
          for (const t of gradsC) t.release();
          ctx.copy(W.buffer, 0, outs.Wm.buffer, 0, W.size * 4);
          m.mergeDense(counter, outs.Wm);
          counter.mm(x, outs.Wm, { transB: true, out: outs.yC, op: 'composed_forward' });
          counter.mm(dY, outs.Wm, { out: outs.dxC, op: 'composed_input_grad' });
          counter.mm(dY, x, { transA: true, out: outs.G, op: 'composed_weight_grad' });
          gradsC = m.chainRule(counter, outs.G);
          composedSteps++;
        };

        const tf = await timeSteps(ctx, fusedStep, opts.methodBudget);
        const tc = await timeSteps(ctx, composedStep, opts.methodBudget);
        const flops = counter.total / composedSteps;

        // Both paths' last results are still in place: compare them.
        const pairs: Array<[string, Tensor, Tensor]> = [
          ['y', outs.yF, outs.yC],
          ['dx', outs.dxF, outs.dxC],
          ...gradsF.map((g, i): [string, Tensor, Tensor] => [`grad${i}`, g, gradsC[i]]),
        ];
        let worst = 0;
        let worstName = '';
        for (const [what, a, b] of pairs) {
          const d = relativeDifference(await a.read(), await b.read());
          if (!(d <= worst)) {
            worst = d;
            worstName = what;
          }
        }
        const agree = worst <= AGREEMENT_TOLERANCE;
        const check = `max rel diff ${worst.toExponential(1)} (${worstName})${agree ? '' : ' DISAGREE'}`;
        const layerName = l.name;
        const shape = `T=${T} ${m.label}`;
        const rc = row({ suite: 'methods', name: `${name} composed`, layer: layerName, shape, flops }, tc);
        const fusedName = `${name} fused${m.fusedVariant ? ` (${m.fusedVariant})` : ''}`;
        const rf = row({ suite: 'methods', name: fusedName, layer: layerName, shape, flops, flopsBasis: 'composed', note: check }, tf);
        rf.speedup = tc.msPerIter / tf.msPerIter;
        rf.maxRelDiff = worst;
        rows.push(rf, rc);
        log(
          `methods ${l.name} ${name}: fused ${tf.msPerIter.toFixed(1)} ms, composed ${tc.msPerIter.toFixed(1)} ms ` +
            `(${rf.speedup.toFixed(2)}×); ${check}`,
        );
        if (!agree) log(`WARNING: ${name} on ${l.name}: fused and composed results disagree (${check})`);
      } catch (e) {
        const reason = (e as Error).message;
        skipped.push({ suite: 'methods', name: `${name} ${l.name}`, reason });
        log(`methods ${l.name} ${name}: skipped: ${reason}`);
        // A failed launch leaves its error for the next flush; collect it here.
        await ctx.flush().catch(() => undefined);
      } finally {
        for (const t of [...gradsF, ...gradsC, ...Object.values(outs)]) t.release();
        method?.release();
      }
    }
    for (const t of [x, W, dY]) t.release();
  }
  return { rows, skipped };
}
