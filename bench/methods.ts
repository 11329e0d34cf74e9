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
import { matmul, type MatmulOptions } from '../src/engine/ops/matmul';
import { LORA_DEFAULTS, loraBackward, loraForward, loraScaling, type LoraWeights } from '../src/engine/ops/lora';
import {
  NOLA_DEFAULTS,
  nolaBackward,
  nolaBases,
  nolaFactors,
  nolaForward,
  nolaScale,
  releaseNolaBases,
  releaseNolaFactors,
  type NolaLayer,
} from '../src/engine/ops/nola';
import {
  RANDLORA_DEFAULTS,
  randloraBackward,
  randloraBases,
  randloraCost,
  randloraForward,
  randloraInit,
  randloraSharedShape,
  type RandLoraLayer,
} from '../src/engine/ops/randlora';
import { VERA_DEFAULTS, veraBackward, veraBases, veraForward, type VeraLayerParams } from '../src/engine/ops/vera';
import { randomTensor, type Distribution } from '../src/engine/random';
import { Tensor } from '../src/engine/tensor';
import type { BenchOptions, LayerShape } from './config';
import { dotCols, dotRows, randloraMaterialiseS, randloraParamGrads, scaleRowsCols, type RandLoraDims } from './kernels';
import { row, type BenchRow, type Skipped } from './report';
import { timeSteps, unprofiled } from './timing';

export const METHOD_IDS = ['lora', 'randlora', 'nola', 'vera'] as const;
export type MethodName = (typeof METHOD_IDS)[number];

/** Counts the FLOPs the composed path launches (2·M·N·K per GEMM, one per element-wise multiply or add). */
class FlopCounter {
  total = 0;
  add(n: number): void {
    this.total += n;
  }
  mm(a: Tensor, b: Tensor, opts: MatmulOptions): Tensor {
    const M = opts.transA ? a.cols : a.rows;
    const K = opts.transA ? a.rows : a.cols;
    const N = opts.transB ? b.rows : b.cols;
    this.total += 2 * M * N * K;
    return matmul(a, b, opts);
  }
}

/** One method set up on one layer: its adapter-specific parts of the two paths. */
interface MethodOnLayer {
  /** Hyper-parameters, for the table. */
  label: string;
  /** How the fused path runs, where the ops choose (RandLoRA's cost model). */
  fusedVariant?: string;
  /** y += x·ΔWᵀ; returns whatever the backward may reuse (released by `backward`). */
  forward(x: Tensor, y: Tensor): Tensor | undefined;
  /** dx += dY·ΔW; returns the trainables' gradients (new tensors). */
  backward(x: Tensor, dY: Tensor, dx: Tensor, saved: Tensor | undefined): Tensor[];
  /** Wm += ΔW with plain GEMMs and element-wise ops (Wm holds a copy of W). */
  mergeDense(f: FlopCounter, Wm: Tensor): void;
  /** Gradients of the trainables from the dense dΔW (O×I), with plain GEMMs and element-wise ops. */
  chainRule(f: FlopCounter, G: Tensor): Tensor[];
  release(): void;
}

const uniform = (lo: number, hi: number): Distribution => ({ kind: 'uniform', lo, hi });

/**
 * Trainables are drawn at random rather than at the methods' initial values (LoRA's B = 0, VeRA's
 * λ_b = 0, RandLoRA's λ = 0 make ΔW and several gradients exactly zero, which would hide errors).
 */
function setupLora(ctx: GpuContext, l: LayerShape, seed: number): MethodOnLayer {
  const { r } = LORA_DEFAULTS;
  const p: LoraWeights = {
    A: randomTensor(ctx, [r, l.in], seed, 11, uniform(-1 / Math.sqrt(l.in), 1 / Math.sqrt(l.in)), 'lora_A'),
    B: randomTensor(ctx, [l.out, r], seed, 12, uniform(-0.1, 0.1), 'lora_B'),
    scale: loraScaling(LORA_DEFAULTS),
  };
  return {
    label: `r=${r} α=${LORA_DEFAULTS.alpha}`,
    forward: (x, y) => loraForward(x, p, y, { save: true }),
    backward(x, dY, dx, h) {
      const g = loraBackward(x, dY, p, { dx, h });
      h?.release();
      return [g.dA, g.dB];
    },
    mergeDense(f, Wm) {
      f.mm(p.B, p.A, { alpha: p.scale, beta: 1, out: Wm, op: 'composed_lora_merge' });
    },
    chainRule(f, G) {
      // ΔW = s·B·A: dA = s·Bᵀ·G, dB = s·G·Aᵀ.
      const dA = f.mm(p.B, G, { transA: true, alpha: p.scale, op: 'composed_lora_dA' });
      const dB = f.mm(G, p.A, { transB: true, alpha: p.scale, op: 'composed_lora_dB' });
      return [dA, dB];
    },
    release() {
      p.A.release();
      p.B.release();
    },
  };
}

function setupVera(ctx: GpuContext, l: LayerShape, seed: number): MethodOnLayer {
  const { r } = VERA_DEFAULTS;
  // Bases sized for this layer alone, so the slices A_s, B_s are the whole of vera_A, vera_B.
  const bases = veraBases(ctx, r, { out: l.out, in: l.in }, seed);
  const p: VeraLayerParams = {
    lambdaB: randomTensor(ctx, [l.out], seed, 21, uniform(-1, 1), 'vera_lambda_b'),
    lambdaD: randomTensor(ctx, [r], seed, 22, uniform(-0.2, 0.2), 'vera_lambda_d'),
  };
  return {
    label: `r=${r}`,
    forward: (x, y) => veraForward(x, bases, p, y, { save: true }),
    backward(x, dY, dx, h) {
      const g = veraBackward(x, dY, bases, p, { dx, h });
      h?.release();
      return [g.dLambdaB, g.dLambdaD];
    },
    mergeDense(f, Wm) {
      // ΔW = (diag(λ_b)·B_s·diag(λ_d))·A_s.
      const left = scaleRowsCols(bases.B, p.lambdaB, p.lambdaD);
      f.add(2 * l.out * r);
      f.mm(left, bases.A, { beta: 1, out: Wm, op: 'composed_vera_merge' });
      left.release();
    },
    chainRule(f, G) {
      // Q = G·A_sᵀ (O×r); dλ_b[o] = Σ_k Q[o,k]·B_s[o,k]·λ_d[k]; dλ_d[k] = Σ_o Q[o,k]·B_s[o,k]·λ_b[o].
      const Q = f.mm(G, bases.A, { transB: true, op: 'composed_vera_Q' });
      const dLambdaB = dotRows(Q, bases.B, p.lambdaD);
      const dLambdaD = dotCols(Q, bases.B, p.lambdaB);
      f.add(2 * 3 * l.out * r);
      Q.release();
      return [dLambdaB, dLambdaD];
    },
    release() {
      for (const t of [bases.A, bases.B, p.lambdaB, p.lambdaD]) t.release();
    },
  };
}

function setupRandLora(ctx: GpuContext, l: LayerShape, seed: number, T: number): MethodOnLayer {
  const { r, alpha } = RANDLORA_DEFAULTS;
  // Shared bases sized for this layer alone: then Bf is randlora_B viewed as (M, nb·r).
  const shared = randloraSharedShape([[l.out, l.in]], r);
  const bases = randloraBases(ctx, shared, seed);
  const init = randloraInit(ctx, bases, l.out, l.in, alpha);
  const { nb, m, M, inputIsMin } = init.shape;
  init.lambda.release();
  init.gamma.release();
  const layer: RandLoraLayer = {
    ...init,
    lambda: randomTensor(ctx, [r, nb], seed, 31, uniform(-0.05, 0.05), 'randlora_lambda'),
    gamma: randomTensor(ctx, [nb, m], seed, 32, uniform(-0.05, 0.05), 'randlora_gamma'),
  };
  if (shared.maxDim !== M || shared.numBases !== nb) throw new Error('RandLoRA bench: shared bases do not match the layer');
  const J = r * nb;
  const Bf = bases.B.reshape([M, J]);
  const dims: RandLoraDims = { r, nb, m, aStride: shared.minDim };
  const s = layer.scale;
  // The ops pick 'factored' or 'dense' by their own cost model ('auto'); say which they took.
  const cost = randloraCost(init.shape, T);
  const pick = (c: { factored: number; dense: number }) => (c.dense < c.factored ? 'dense' : 'factored');
  return {
    label: `r=${r} α=${alpha} nb=${nb}`,
    fusedVariant: `fwd ${pick(cost.forward)}, bwd ${pick(cost.backward)}`,
    forward(x, y) {
      randloraForward(layer, x, y);
      return undefined;
    },
    backward(x, dY, dx) {
      const g = randloraBackward(layer, x, dY, { dx });
      return [g.lambda, g.gamma];
    },
    mergeDense(f, Wm) {
      const S = randloraMaterialiseS(dims, layer.lambda, bases.A, layer.gamma, Tensor.empty(ctx, [J, m], 'composed_randlora_S'));
      f.add(2 * J * m);
      // I ≤ O: ΔW = s·Bf·S. I > O: ΔW = s·(Bf·S)ᵀ = s·Sᵀ·Bfᵀ.
      if (inputIsMin) f.mm(Bf, S, { alpha: s, beta: 1, out: Wm, op: 'composed_randlora_merge' });
      else f.mm(S, Bf, { transA: true, transB: true, alpha: s, beta: 1, out: Wm, op: 'composed_randlora_merge' });
      S.release();
    },
    chainRule(f, G) {
      // dS = s·Bfᵀ·G (I ≤ O) or s·Bfᵀ·Gᵀ (I > O), then the Hadamard chain rule to λ and γ.
      const dS = f.mm(Bf, G, { transA: true, transB: !inputIsMin, alpha: s, op: 'composed_randlora_dS' });
      const g = randloraParamGrads(dims, layer.lambda, bases.A, layer.gamma, dS);
      f.add(2 * 3 * J * m);
      dS.release();
      return [g.dLambda, g.dGamma];
    },
    release() {
      for (const t of [bases.A, bases.B, layer.lambda, layer.gamma]) t.release();
    },
  };
}

function setupNola(ctx: GpuContext, l: LayerShape, seed: number): MethodOnLayer {
  const layer: NolaLayer = { ...NOLA_DEFAULTS, I: l.in, O: l.out, seed };
  const { rank, ka, kb } = layer;
  const bases = nolaBases(ctx, layer, true);
  const Aall = bases.a.tensor!;
  const Ball = bases.b.tensor!;
  const alpha = randomTensor(ctx, [ka], seed, 41, uniform(-1, 1), 'nola_alpha');
  const beta = randomTensor(ctx, [kb], seed, 42, uniform(-1, 1), 'nola_beta');
  const s = nolaScale(layer);
  let mixed: { A: Tensor; B: Tensor } | undefined;
  let factors: ReturnType<typeof nolaFactors> | undefined;
  return {
    label: `rank=${rank} ka=${ka} kb=${kb}`,
    forward(x, y) {
      // The mixed factors are made once per step, as training does.
      factors = nolaFactors(layer, bases, alpha, beta);
      return nolaForward(layer, factors, x, y, true);
    },
    backward(x, dY, dx, xA) {
      const g = nolaBackward(layer, bases, factors!, x, dY, { dx, xA });
      xA?.release();
      releaseNolaFactors(factors!);
      factors = undefined;
      return [g.dAlpha, g.dBeta];
    },
    mergeDense(f, Wm) {
      // A = Σ α_i A_i and B = Σ β_j B_j as (1×k)·(k×E) GEMMs; ΔW = s·Bᵀ·Aᵀ.
      const A = f.mm(alpha.reshape([1, ka]), Aall, { op: 'composed_nola_mix_A' }).reshape([l.in, rank]);
      const B = f.mm(beta.reshape([1, kb]), Ball, { op: 'composed_nola_mix_B' }).reshape([rank, l.out]);
      f.mm(B, A, { transA: true, transB: true, alpha: s, beta: 1, out: Wm, op: 'composed_nola_merge' });
      mixed = { A, B };
    },
    chainRule(f, G) {
      const { A, B } = mixed!;
      // ΔWᵀ = s·A·B: dA = s·Gᵀ·Bᵀ (I×rank), dB = s·Aᵀ·Gᵀ (rank×O), then dα = A_all·vec(dA), dβ = B_all·vec(dB).
      const dA = f.mm(G, B, { transA: true, transB: true, alpha: s, op: 'composed_nola_dA' });
      const dB = f.mm(A, G, { transA: true, transB: true, alpha: s, op: 'composed_nola_dB' });
      const dAlpha = f.mm(Aall, dA.reshape([l.in * rank, 1]), { op: 'composed_nola_dalpha' });
      const dBeta = f.mm(Ball, dB.reshape([rank * l.out, 1]), { op: 'composed_nola_dbeta' });
      for (const t of [dA, dB, A, B]) t.release();
      mixed = undefined;
      return [dAlpha, dBeta];
    },
    release() {
      releaseNolaBases(bases);
      alpha.release();
      beta.release();
    },
  };
}

const SETUP: Record<MethodName, (ctx: GpuContext, l: LayerShape, seed: number, T: number) => MethodOnLayer> = {
  lora: setupLora,
  randlora: setupRandLora,
  nola: setupNola,
  vera: setupVera,
};

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
        const m = await unprofiled(ctx, () => SETUP[name](ctx, l, 3, T));
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
