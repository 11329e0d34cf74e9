import { describe, expect, it } from 'vitest';
import { useGpu, testData } from '../testing/gpu';
import { Tape } from '../engine/tape';
import { Tensor } from '../engine/tensor';
import { maxRelError } from '../engine/reference/linalg';
import { loadMethod } from '../methods/registry';
import { makeModel } from './makeModel';
import { referenceForward } from './reference/transformer64';
import { VisionTransformer } from './vision';
import { ALL_TARGETS } from './names';
import type { ModelArch } from './makeModel';

const gpu = useGpu();
const B = 2;

/** dL/dlogits of the batch-mean cross-entropy, in float64: the seed for the GPU backward. */
function ceGrad(logits: Float64Array, labels: number[], C: number): Float64Array {
  const g = new Float64Array(logits.length);
  for (let b = 0; b < labels.length; b++) {
    const row = logits.subarray(b * C, (b + 1) * C);
    const max = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - max);
    for (let c = 0; c < C; c++) g[b * C + c] = (Math.exp(row[c] - max) / z - (c === labels[b] ? 1 : 0)) / labels.length;
  }
  return g;
}

function setup(arch: ModelArch) {
  const { ctx } = gpu();
  const made = makeModel({ arch, preset: 'tiny', seed: 3, init: 'varied', labels: 5 });
  const model = new VisionTransformer(ctx, made.spec, made.tensors, { numLabels: 5 });
  const S = made.spec.imageSize;
  const images = Float32Array.from(testData(B * 3 * S * S, 11));
  const labels = [1, 4];
  const weights = new Map([...made.tensors].map(([k, v]) => [k, v.data]));
  return { ctx, made, model, images, labels, weights, S };
}

// Tolerances: the network chains ~10 contractions of length ≤ 64 in f32 (and a softmax), each
// adding ~k·2⁻²⁴ relative error; 2e-4 of the largest magnitude leaves margin while a wrong
// index, a missing term or a transposed weight gives errors of order 1.
const TOL = 2e-4;

describe.each(['vit', 'clip'] as const)('%s on the GPU against the float64 reference', (arch) => {
  it('gives the same logits and the same gradient for every weight (full fine-tuning)', async () => {
    const { ctx, made, model, images, labels, weights, S } = setup(arch);
    const ref = referenceForward({ spec: made.spec, weights, images, labels });
    const tape = new Tape();
    for (const t of model.params.values()) tape.track(t);
    const pixels = Tensor.from(ctx, [B, 3, S, S], images);
    const logits = model.forward(tape, pixels);
    expect(maxRelError(await logits.read(), ref.logits)).toBeLessThan(TOL);
    const seed = Tensor.from(ctx, logits.shape, Float32Array.from(ceGrad(ref.logits, labels, 5)));
    tape.backward(logits, seed);
    // Some gradients are zero in exact arithmetic (a key bias shifts every score of a row alike,
    // which softmax ignores), so errors are measured against the largest gradient of any weight.
    let globalMax = 0;
    for (const g of ref.grads.values()) for (const v of g) globalMax = Math.max(globalMax, Math.abs(v));
    const failures: string[] = [];
    let checked = 0;
    for (const [name, t] of model.params) {
      const want = ref.grads.get(name);
      if (!want) continue;
      const g = tape.takeGrad(t);
      const got = g ? await g.read() : new Float32Array(t.size);
      let scale = 1e-2 * globalMax;
      let err = 0;
      for (let i = 0; i < want.length; i++) {
        scale = Math.max(scale, Math.abs(want[i]));
        err = Math.max(err, Math.abs(got[i] - want[i]));
      }
      if (!(err / scale < TOL * 5)) failures.push(`${name}: relative error ${err / scale}`);
      g?.release();
      checked++;
    }
    expect(failures).toEqual([]);
    expect(checked).toBe(model.params.size);
    tape.clear(model.params.values());
    pixels.release();
    model.release();
  });

  // RandLoRA and VeRA take the merged route (the layer's GEMMs on W + ΔW) where it is cheaper, as it
  // is at these shapes; with forwardMerged removed they apply ΔW beside W. Both must agree with the reference.
  const cases = [
    ['lora', 'separate'],
    ['randlora', 'merged'],
    ['randlora', 'separate'],
    ['vera', 'merged'],
    ['vera', 'separate'],
  ] as const;
  it('with adapters: equals the base model at init, and adapter gradients match ΔW gradients', async () => {
    const { ctx, made, model, images, labels, weights, S } = setup(arch);
    const pixels = Tensor.from(ctx, [B, 3, S, S], images);
    const base = referenceForward({ spec: made.spec, weights, images, gradients: false });
    for (const [id, route] of cases) {
      const method = await loadMethod(id);
      const cfg = id === 'lora' ? { r: 4, alpha: 8, rslora: false } : id === 'vera' ? { r: 16, dInitial: 0.1 } : { r: 8, alpha: 32 };
      const layers = model.targetLayers(ALL_TARGETS[made.spec.family]);
      const set = method.create(ctx, cfg, layers, 1);
      let mergedForwards = 0;
      for (const a of set.layers.values()) {
        const offered = a.forwardMerged?.bind(a);
        if (route === 'separate' || !offered) a.forwardMerged = undefined;
        else
          a.forwardMerged = (x, W) => {
            const m = offered(x, W);
            if (m) mergedForwards++;
            return m;
          };
      }
      const tape0 = new Tape();
      const l0 = model.forward(tape0, pixels, set);
      expect(maxRelError(await l0.read(), base.logits)).toBeLessThan(TOL);
      tape0.clear();
      // Move the trainables off their init, then compare against the reference with ΔW = merge(W) − W.
      let seedNo = 40;
      for (const a of set.layers.values()) for (const t of a.trainables) ctx.upload(t.tensor.buffer, Float32Array.from(testData(t.tensor.size, seedNo++, -0.3, 0.3)));
      const deltas = new Map<string, Float64Array>();
      for (const [module, a] of set.layers) {
        const W = model.param(`${module}.weight`);
        const merged = a.merge(W);
        const m = await merged.read();
        const w = await W.read();
        deltas.set(module, Float64Array.from(m, (v, i) => v - w[i]));
        merged.release();
      }
      const ref = referenceForward({ spec: made.spec, weights, images, labels, delta: (mod) => deltas.get(mod) });
      const tape = new Tape();
      for (const a of set.layers.values()) for (const t of a.trainables) tape.track(t.tensor);
      const logits = model.forward(tape, pixels, set);
      expect(maxRelError(await logits.read(), ref.logits)).toBeLessThan(TOL * 5);
      tape.backward(logits, Tensor.from(ctx, logits.shape, Float32Array.from(ceGrad(ref.logits, labels, 5))));
      // ΔW is linear in each coordinate of each trainable, so <dL/dΔW, ∂ΔW/∂θ_i> is exactly the
      // central difference of merge(W) along θ_i; compare a few coordinates per tensor.
      // Every layer of the first block: its gradient has passed back through every layer above it,
      // and its own backward is each kind (QKV split GEMM, residual epilogue, GELU fused or not).
      for (const [module, a] of [...set.layers].slice(0, 6)) {
        const W = model.param(`${module}.weight`);
        const dDelta = ref.deltaGrads.get(module)!;
        for (const t of a.trainables) {
          const g = await tape.takeGrad(t.tensor)!.read();
          const values = await t.tensor.read();
          for (const i of [0, t.tensor.size - 1]) {
            const eps = 0.25;
            const at = async (v: number) => {
              const p = values.slice();
              p[i] = v;
              ctx.upload(t.tensor.buffer, p);
              const m = a.merge(W);
              const r = await m.read();
              m.release();
              return r;
            };
            const plus = await at(values[i] + eps);
            const minus = await at(values[i] - eps);
            ctx.upload(t.tensor.buffer, values);
            let fd = 0;
            let scale = 0;
            for (let j = 0; j < dDelta.length; j++) {
              fd += (dDelta[j] * (plus[j] - minus[j])) / (2 * eps);
              scale += Math.abs(dDelta[j] * (plus[j] - minus[j])) / (2 * eps);
            }
            expect(Math.abs(g[i] - fd)).toBeLessThan(1e-3 * scale + 1e-6);
          }
        }
      }
      // The route this case names was taken. VeRA at r = 16 picks per layer (veraStepCost): λ gradients
      // through dYᵀ·x on the 32 × 32 layers, through h = x·A_sᵀ on the MLP ones.
      if (route === 'separate') expect(mergedForwards, `${id} ${route}`).toBe(0);
      else expect(mergedForwards, `${id} ${route}`).toBeGreaterThan(0);
      tape.clear();
      set.release();
    }
    pixels.release();
    model.release();
  });

  it('DoRA on every target (it rescales its layer\'s output, so the residual add stays out of that GEMM): logits match the merged reference', async () => {
    const { ctx, made, model, images, weights, S } = setup(arch);
    const pixels = Tensor.from(ctx, [B, 3, S, S], images);
    const method = await loadMethod('dora');
    const set = method.create(ctx, { r: 4, alpha: 8, rslora: false }, model.targetLayers(ALL_TARGETS[made.spec.family]), 1);
    let seedNo = 70;
    for (const a of set.layers.values()) for (const t of a.trainables) ctx.upload(t.tensor.buffer, Float32Array.from(testData(t.tensor.size, seedNo++, 0.2, 0.5)));
    const deltas = new Map<string, Float64Array>();
    for (const [module, a] of set.layers) {
      const W = model.param(`${module}.weight`);
      const merged = a.merge(W);
      const [m, w] = [await merged.read(), await W.read()];
      deltas.set(module, Float64Array.from(m, (v, i) => v - w[i]));
      merged.release();
    }
    const ref = referenceForward({ spec: made.spec, weights, images, gradients: false, delta: (mod) => deltas.get(mod) });
    const tape = new Tape();
    const logits = model.forward(tape, pixels, set);
    expect(maxRelError(await logits.read(), ref.logits)).toBeLessThan(TOL * 5);
    tape.clear();
    set.release();
    pixels.release();
    model.release();
  });
});
