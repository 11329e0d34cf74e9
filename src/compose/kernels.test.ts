/**
 * The aTLAS kernels against their float64 references: the composed block and the coefficient
 * gradients, for K = 1 and aTLAS×K, on sizes that are not multiples of the workgroup (256) or of a
 * gradient chunk (4096), with several blocks sharing one coefficient tensor.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../engine/tensor';
import { f32Data, f32Tolerance, useGpu } from '../testing/gpu';
import { blockGroups, groupOf } from './groups';
import { composeBlock, composeGradBlock, GRAD_CHUNK, type BlockLayout } from './kernels';
import { composeBlock64, composeGrad64 } from './reference';

const gpu = useGpu();
const up = (d: Float64Array, shape: number[]) => Tensor.from(gpu().ctx, shape, Float32Array.from(d));

describe('aTLAS groups', () => {
  it('splits a block into K groups from (seed, block, element), the same on every call, different per block and seed', () => {
    const g = blockGroups(7, 2, 10000, 4);
    const counts = [0, 0, 0, 0];
    g.forEach((k) => counts[k]++);
    for (const c of counts) expect(Math.abs(c - 2500)).toBeLessThan(200);
    expect(groupOf(7, 2, 123, 4)).toBe(g[123]);
    expect([...blockGroups(7, 3, 100, 4)]).not.toEqual([...g.subarray(0, 100)]);
    expect([...blockGroups(8, 2, 100, 4)]).not.toEqual([...g.subarray(0, 100)]);
    expect([...blockGroups(7, 2, 50, 1)].every((k) => k === 0)).toBe(true);
  });
});

describe('aTLAS kernels vs float64', () => {
  const cases: Array<{ n: number; tasks: number; groups: number; block: number }> = [
    { n: 1, tasks: 1, groups: 1, block: 0 },
    { n: 7, tasks: 2, groups: 3, block: 1 },
    { n: 197, tasks: 3, groups: 1, block: 2 },
    { n: GRAD_CHUNK * 2 + 65, tasks: 3, groups: 4, block: 1 },
  ];
  for (const c of cases) {
    it(`n = ${c.n}, T = ${c.tasks}, K = ${c.groups}, block ${c.block}`, async () => {
      const l: BlockLayout = { ...c, seed: 11 };
      const blocks = 3;
      const theta0 = f32Data(c.n, 1 + c.n);
      const tau = f32Data(c.tasks * c.n, 2 + c.n);
      const lambda = f32Data(blocks * c.tasks * c.groups, 3 + c.n);
      const dTheta = f32Data(c.n, 4 + c.n);
      const [t0, tt, lt, dt] = [up(theta0, [c.n]), up(tau, [c.tasks, c.n]), up(lambda, [blocks, c.tasks, c.groups]), up(dTheta, [c.n])];
      const theta = Tensor.empty(gpu().ctx, [c.n]);
      composeBlock(l, t0, tt, lt, theta);
      const got = await theta.read();
      const want = composeBlock64(l, theta0, tau, lambda);
      let err = 0;
      want.forEach((v, i) => (err = Math.max(err, Math.abs(v - got[i]))));
      expect(err).toBeLessThanOrEqual(f32Tolerance(c.tasks + 1) * 4);

      // The gradient lands in this block's slice only; the others keep what they held.
      const grad = Tensor.from(gpu().ctx, [blocks, c.tasks, c.groups], new Float32Array(blocks * c.tasks * c.groups).fill(9));
      composeGradBlock(l, dt, tt, grad);
      const g = await grad.read();
      const wantG = composeGrad64(l, dTheta, tau);
      const off = c.block * c.tasks * c.groups;
      const scale = Math.sqrt(c.n);
      wantG.forEach((v, i) => expect(Math.abs(g[off + i] - v)).toBeLessThanOrEqual(f32Tolerance(c.n) * scale + 1e-6));
      g.forEach((v, i) => {
        if (i < off || i >= off + wantG.length) expect(v).toBe(9);
      });
      // Σ over groups is the plain inner product ⟨dθ, τ_t⟩: aTLAS×K refines aTLAS.
      for (let t = 0; t < c.tasks; t++) {
        let dot = 0;
        for (let e = 0; e < c.n; e++) dot += dTheta[e] * tau[t * c.n + e];
        const sum = wantG.subarray(t * c.groups, (t + 1) * c.groups).reduce((a, b) => a + b, 0);
        expect(sum).toBeCloseTo(dot, 9);
      }
      for (const x of [t0, tt, lt, dt, theta, grad]) x.release();
    });
  }
});
