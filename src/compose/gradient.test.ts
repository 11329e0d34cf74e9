/**
 * ∂L/∂λ through the real loss. In float64: the reference network (models/reference/transformer64.ts)
 * on weights composed by composeBlock64, differentiated by central differences over every
 * coefficient, against the analytic ⟨∂L/∂θ_b, τ_t^(b)⟩ per group (composeGrad64 of the reference's
 * weight gradients). On the GPU: the model's forward and backward with the composition written by
 * the compose kernel and the gradients reduced by the gradient kernel, against the same float64 values.
 */
import { describe, expect, it } from 'vitest';
import { Tape } from '../engine/tape';
import { Tensor } from '../engine/tensor';
import type { Checkpoint } from '../io/checkpoint';
import { makeModel } from '../models/makeModel';
import { referenceForward } from '../models/reference/transformer64';
import { VisionTransformer } from '../models/vision';
import { testData, useGpu } from '../testing/gpu';
import { numericGradient, relErr } from '../testing/gradcheck';
import { Composition } from './composition';
import { composeBlock64, composeGrad64 } from './reference';
import { buildTaskVectors } from './taskVectors';

const gpu = useGpu();

/** dL/dlogits of the batch-mean cross-entropy, in float64. */
function ceGrad(logits: ArrayLike<number>, labels: number[], C: number): Float64Array {
  const g = new Float64Array(logits.length);
  for (let b = 0; b < labels.length; b++) {
    const row = Array.from({ length: C }, (_, c) => logits[b * C + c]);
    const max = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
    for (let c = 0; c < C; c++) g[b * C + c] = (Math.exp(row[c] - max) / z - (c === labels[b] ? 1 : 0)) / labels.length;
  }
  return g;
}

const asCheckpoint = (tensors: Map<string, { shape: number[]; data: Float32Array }>, config: Record<string, unknown>, source: string) =>
  ({ config, tensors, source, weightFiles: [], preprocessor: {} }) as unknown as Checkpoint;

describe('aTLAS coefficient gradients through the loss', () => {
  it('float64: finite differences equal ⟨∂L/∂θ, τ⟩ per group; GPU kernels through the model equal float64', async () => {
    const made = makeModel({ arch: 'vit', preset: 'micro', seed: 3, init: 'varied', labels: 3 });
    const spec = made.spec;
    // Two "runs": each moves a few tensors (an attention weight, a norm, an MLP weight, position embeddings).
    const moved = [
      ['vit.encoder.layer.0.attention.attention.query.weight', 'vit.encoder.layer.1.layernorm_before.weight'],
      ['vit.encoder.layer.1.intermediate.dense.weight', 'vit.embeddings.position_embeddings', 'vit.encoder.layer.0.attention.attention.query.weight'],
    ];
    const members = moved.map((names, t) => {
      const tensors = new Map([...made.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data.slice() }]));
      for (const name of names) {
        const w = tensors.get(name)!;
        const d = testData(w.data.length, 40 + t);
        w.data.forEach((v, i) => (w.data[i] = v + 0.2 * d[i]));
      }
      return { name: `run${t}`, checkpoint: asCheckpoint(tensors, made.config, `run${t}`) };
    });
    const base = asCheckpoint(made.tensors, made.config, 'base');
    const tv = buildTaskVectors(base, members);
    expect(tv.blocks.map((b) => b.name).sort()).toEqual([...new Set(moved.flat())].sort());
    const T = 2;
    const K = 2;
    const seed = 5;
    const B = tv.blocks.length;
    const lambda = Float64Array.from(Float32Array.from(testData(B * T * K, 7, -0.8, 1.2)));
    const S = spec.imageSize;
    const images = Float32Array.from(testData(3 * 3 * S * S, 11));
    const labels = [0, 2, 1];
    const layouts = tv.blocks.map((b, i) => ({ block: i, n: b.n, tasks: T, groups: K, seed }));
    const taus = tv.blocks.map((b) => {
      const tau = new Float64Array(T * b.n);
      b.thetas.forEach((th, t) => th.forEach((v, e) => (tau[t * b.n + e] = v - b.theta0[e])));
      return tau;
    });
    const weightsAt = (lam: ArrayLike<number>) => {
      const w = new Map<string, ArrayLike<number>>([...made.tensors].map(([k, v]) => [k, v.data]));
      tv.blocks.forEach((b, i) => w.set(b.name, composeBlock64(layouts[i], b.theta0, taus[i], lam)));
      return w;
    };
    const loss = (lam: ArrayLike<number>) => referenceForward({ spec, weights: weightsAt(lam), images, labels, gradients: false }).loss!;

    const ref = referenceForward({ spec, weights: weightsAt(lambda), images, labels });
    const analytic = new Float64Array(B * T * K);
    tv.blocks.forEach((b, i) => analytic.set(composeGrad64(layouts[i], ref.grads.get(b.name)!, taus[i]), i * T * K));
    const numeric = numericGradient(loss, lambda, 1e-5);
    // Central differences in float64 on an O(1) loss: truncation and rounding near 1e-10.
    expect(relErr(numeric, analytic)).toBeLessThan(1e-6);
    expect(Math.max(...analytic.map(Math.abs))).toBeGreaterThan(1e-3);

    // The same on the GPU: the compose kernel writes the model's tensors, the backward gives ∂L/∂θ,
    // the reduction kernel gives ∂L/∂λ.
    const { ctx } = gpu();
    const model = new VisionTransformer(ctx, spec, made.tensors, { numLabels: 3 });
    const comp = new Composition(ctx, model, tv.blocks, K, seed);
    comp.setLambda(Float32Array.from(lambda));
    comp.apply();
    for (const [i, b] of tv.blocks.entries()) {
      const got = await comp.writes[i].read();
      expect(relErr(got, weightsAt(lambda).get(b.name)!)).toBeLessThan(1e-6);
    }
    const tape = new Tape();
    for (const w of comp.writes) tape.track(w);
    const pixels = Tensor.from(ctx, [3, 3, S, S], images);
    const logits = model.forward(tape, pixels);
    tape.backward(logits, Tensor.from(ctx, logits.shape, Float32Array.from(ceGrad(ref.logits, labels, 3))));
    const d = comp.writes.map((w) => tape.takeGrad(w));
    const [g] = comp.gradients(d);
    // The f32 network's weight gradients are within ~2e-4 of float64 (models/vision.test.ts); each
    // coefficient sums at most 1024 such products against τ, so 1e-3 of the largest coefficient
    // gradient holds with margin, while a wrong group, block offset or task gives errors of order 1.
    expect(relErr(await g.read(), analytic)).toBeLessThan(1e-3);
    for (const x of [...d, g, pixels]) x?.release();
    tape.clear();
    comp.release();
    model.release();
  }, 120_000);
});
