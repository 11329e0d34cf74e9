import { describe, expect, it } from 'vitest';
import { f32Tolerance, testData, useGpu } from '../testing/gpu';
import { f32Round } from '../testing/gradcheck';
import { accumulate } from '../engine/ops/elementwise';
import { adamWState, adamWStep, gradNorm, readGradNorm } from '../engine/ops/optimizer';
import { gradNorm64 } from '../engine/reference/optimizer';
import { Tensor } from '../engine/tensor';
import { FlatAdamW } from './flatAdamW';

const gpu = useGpu();

// Odd sizes; with directMin 500 the 700-value tensor keeps its own moments and launches.
const SIZES = [5, 130, 1, 700, 64];
const DIRECT_MIN = 500;
const hyper = (i: number) => ({ lr: [1e-2, 3e-3, 2e-2, 5e-3, 1e-2][i], weightDecay: [0.05, 0, 0, 0.1, 0.01][i] });

/**
 * Which gradients each micro-batch of each step has: tensor 2 only in the second micro-batch of
 * step 1, tensor 4 in no micro-batch of step 1 (it must then keep its value and moments).
 */
const PLAN = [
  [[0, 1, 3], [0, 1, 2, 3]],
  [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]],
];

function gradData(step: number, micro: number, i: number): Float64Array {
  return f32Round(testData(SIZES[i], 100 * step + 10 * micro + i, -0.2, 0.2));
}

describe('FlatAdamW', () => {
  for (const maxNorm of [0, 0.3]) {
    it(`equals per-tensor accumulation, norm and AdamW over micro-batches and missing gradients${maxNorm ? ', clipped' : ''}`, async () => {
      const ctx = gpu().ctx;
      const p0 = SIZES.map((n, i) => f32Round(testData(n, 90 + i)));
      const flatParams = SIZES.map((n, i) => Tensor.from(ctx, [n], p0[i]));
      const ownParams = SIZES.map((n, i) => Tensor.from(ctx, [n], p0[i]));
      const ownState = ownParams.map((p) => adamWState(p));
      const opt = new FlatAdamW(ctx, flatParams, { directMin: DIRECT_MIN });
      expect(opt.offsets).toEqual([0, 5, 135, -1, 136]);
      for (const [s, micros] of PLAN.entries()) {
        const step = s + 1;
        const ownGrads = new Map<number, Tensor>();
        const all: Float64Array[] = SIZES.map((n) => new Float64Array(n));
        for (const [micro, present] of micros.entries()) {
          for (const i of present) {
            const d = gradData(step, micro, i);
            d.forEach((x, j) => (all[i][j] += x));
            opt.addGrad(i, Tensor.from(ctx, [SIZES[i]], d));
            const g = Tensor.from(ctx, [SIZES[i]], d);
            const acc = ownGrads.get(i);
            if (acc) {
              accumulate(acc, g);
              g.release();
            } else ownGrads.set(i, g);
          }
          opt.endMicroBatch();
        }
        const launches = ctx.launches;
        const norm = opt.gradNorm({ maxNorm, gradScale: 0.5 });
        opt.update(hyper, { step, gradScale: 0.5, clip: norm });
        // Norm: a partial launch for the flat gradient and one for the direct tensor, the final
        // sum; update: one for every flat tensor, one for the direct one.
        expect(ctx.launches - launches).toBe(5);
        const ownNorm = gradNorm([...ownGrads.values()], { maxNorm, gradScale: 0.5 });
        for (const [i, g] of ownGrads) adamWStep(ownParams[i], g, ownState[i], { ...hyper(i), step, gradScale: 0.5, clip: ownNorm });
        const [got, want] = [await readGradNorm(norm), await readGradNorm(ownNorm)];
        const ref = gradNorm64(all, 0.5, maxNorm);
        expect(Math.abs(got.norm - ref.norm) / ref.norm).toBeLessThan(f32Tolerance(100));
        expect(Math.abs(got.clipScale - ref.clipScale) / ref.clipScale).toBeLessThan(f32Tolerance(100));
        if (!maxNorm) expect(got.clipScale).toBe(1);
        for (const t of [norm, ownNorm, ...ownGrads.values()]) t.release();
        for (const [i, p] of flatParams.entries()) {
          const [a, b] = [await p.read(), await ownParams[i].read()];
          // Unclipped, the same arithmetic gives the same bits; clipped, the two norms sum in
          // other orders, so the clip scales (and the updates) differ in the last bits.
          if (!maxNorm) expect(Array.from(a), `tensor ${i}, step ${step}`).toEqual(Array.from(b));
          else a.forEach((x, j) => expect(Math.abs(x - b[j]), `tensor ${i}[${j}]`).toBeLessThan(1e-6));
          const { m } = await opt.readState(i);
          if (!maxNorm) expect(Array.from(m)).toEqual(Array.from(await ownState[i].m.read()));
        }
        if (step === 1) {
          expect(Array.from(await flatParams[4].read()), 'no gradient: untouched').toEqual(Array.from(p0[4], Math.fround));
          expect((await opt.readState(4)).v.every((x) => x === 0)).toBe(true);
        }
      }
      // The moments travel through a checkpoint: read per tensor, written into a fresh optimizer.
      const again = new FlatAdamW(ctx, flatParams, { directMin: DIRECT_MIN });
      for (let i = 0; i < SIZES.length; i++) {
        const s = await opt.readState(i);
        expect(s.m.some((x) => x !== 0)).toBe(true);
        again.writeState(i, s.m, s.v);
        const r = await again.readState(i);
        expect(Array.from(r.m)).toEqual(Array.from(s.m));
        expect(Array.from(r.v)).toEqual(Array.from(s.v));
      }
      expect(() => again.writeState(0, new Float32Array(4), new Float32Array(5))).toThrow(/moments of 4 and 5 values/);
      for (const t of [...flatParams, ...ownParams, ...ownState.flatMap((s) => [s.m, s.v])]) t.release();
      opt.release();
      again.release();
    });
  }
});
