import { beforeAll, describe, expect, it } from 'vitest';
import { useGpu, testData } from '../testing/gpu';
import { Tensor } from '../engine/tensor';
import { matmul } from '../engine/ops/matmul';
import { maxRelError } from '../engine/reference/linalg';
import { loadMethod, METHOD_IDS, METHODS, type MethodId } from './registry';
import type { MethodRuntime, TargetLayer } from './types';

const gpu = useGpu();

// Two layers of opposite orientation so shared bases are sized over both, as in a real model.
const layers: TargetLayer[] = [
  { module: 'blocks.0.fc1', out: 33, in: 20 },
  { module: 'blocks.0.fc2', out: 20, in: 33 },
];
const small = {
  lora: { r: 4, alpha: 8, rslora: false },
  randlora: { r: 4, alpha: 16 },
  nola: { rank: 2, ka: 8, kb: 8, c: 1, init: 'zero-beta' },
  vera: { r: 8, dInitial: 0.1 },
} as const;

describe.each(Object.keys(small) as Array<keyof typeof small>)('%s through the Method interface', (id) => {
  const config = METHODS[id];
  let method: MethodRuntime<object>;
  beforeAll(async () => {
    method = await loadMethod(id);
  });

  it('starts at ΔW = 0, and merge(W) agrees with W plus forward after the trainables move', async () => {
    const { ctx } = gpu();
    const set = method.create(ctx, small[id], layers, 5);
    expect(set.layers.size).toBe(2);
    for (const shape of layers) {
      const a = set.layers.get(shape.module)!;
      const W = Tensor.from(ctx, [shape.out, shape.in], Float32Array.from(testData(shape.out * shape.in, 1)));
      const x = Tensor.from(ctx, [7, shape.in], Float32Array.from(testData(7 * shape.in, 2)));
      const m0 = a.merge(W);
      expect(maxRelError(await m0.read(), await W.read())).toBe(0);
      // Move every trainable to random values so the check covers a non-trivial update.
      a.trainables.forEach((t, i) => ctx.upload(t.tensor.buffer, Float32Array.from(testData(t.tensor.size, 10 + i, -0.5, 0.5))));
      const merged = a.merge(W);
      const viaMerge = matmul(x, merged, { transB: true });
      const y = matmul(x, W, { transB: true });
      const saved = a.forward(x, y);
      expect(maxRelError(await y.read(), await viaMerge.read())).toBeLessThan(1e-4);
      for (const t of saved.owned) t.release();
      for (const t of [W, x, m0, merged, viaMerge, y]) t.release();
    }
    expect(config.countParams(small[id], layers)).toBe(
      [...set.layers.values()].reduce((n, a) => n + a.trainables.reduce((k, t) => k + t.tensor.size, 0), 0),
    );
    set.release();
  });

  it('backward gives the gradient of ⟨G, y⟩ that finite differences of forward see', async () => {
    const { ctx } = gpu();
    const set = method.create(ctx, small[id], layers, 6);
    const shape = layers[1];
    const a = set.layers.get(shape.module)!;
    a.trainables.forEach((t, i) => ctx.upload(t.tensor.buffer, Float32Array.from(testData(t.tensor.size, 20 + i, -0.5, 0.5))));
    const x = Tensor.from(ctx, [5, shape.in], Float32Array.from(testData(5 * shape.in, 3)));
    const G = Tensor.from(ctx, [5, shape.out], Float32Array.from(testData(5 * shape.out, 4)));
    const loss = async () => {
      const y = Tensor.zeros(ctx, [5, shape.out]);
      for (const t of a.forward(x, y).owned) t.release();
      const v = await y.read();
      const g = await G.read();
      y.release();
      let s = 0;
      for (let i = 0; i < v.length; i++) s += v[i] * g[i];
      return s;
    };
    const dx = Tensor.zeros(ctx, [5, shape.in]);
    const y0 = Tensor.zeros(ctx, [5, shape.out]);
    const saved = a.forward(x, y0);
    const grads = a.backward(saved, G, { dx });
    for (const t of [y0, ...saved.owned]) t.release();
    for (let ti = 0; ti < a.trainables.length; ti++) {
      const t = a.trainables[ti].tensor;
      const g = await grads[ti].read();
      const values = await t.read();
      // The loss is linear in each single coordinate (ΔW is multilinear in the trainables), so a
      // central difference has no truncation error; only f32 rounding of the two losses remains.
      const eps = 0.25;
      for (const i of [0, Math.floor(t.size / 2), t.size - 1]) {
        const plus = values.slice();
        plus[i] += eps;
        ctx.upload(t.buffer, plus);
        const lp = await loss();
        const minus = values.slice();
        minus[i] -= eps;
        ctx.upload(t.buffer, minus);
        const lm = await loss();
        ctx.upload(t.buffer, values);
        const fd = (lp - lm) / (2 * eps);
        expect(Math.abs(fd - g[i])).toBeLessThan(2e-3 * (1 + Math.abs(g[i])) + 1e-3 * Math.abs(lp));
      }
    }
    expect((await dx.read()).some((v) => v !== 0)).toBe(true);
    for (const t of [x, G, dx, ...grads]) t.release();
    set.release();
  });
});

describe('method registry', () => {
  it('reports the rank each method can reach: LoRA stops at r, RandLoRA reaches full rank', () => {
    const l = { module: 'q', out: 768, in: 768 };
    expect(METHODS.lora.maxRank(METHODS.lora.defaults, l, [l])).toBe(8);
    expect(METHODS.randlora.maxRank(METHODS.randlora.defaults, l, [l])).toBe(768);
    expect(METHODS.vera.maxRank(METHODS.vera.defaults, l, [l])).toBe(256);
    expect(METHODS.full.maxRank(METHODS.full.defaults, l, [l])).toBe(768);
    expect(METHODS.probe.maxRank(METHODS.probe.defaults, l, [l])).toBe(0);
  });
});
