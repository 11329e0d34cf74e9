import { describe, expect, it } from 'vitest';
import { useGpu, testData, f32Tolerance } from '../../testing/gpu';
import { f32Round } from '../../testing/gradcheck';
import { Tensor } from '../tensor';
import { maxRelError } from '../reference/linalg';
import { adamw64, gradNorm64 } from '../reference/optimizer';
import { accumulateGrad, adamWState, adamWStep, adamWStepMulti, gradNorm, GRAD_NORM_SIZE, readGradNorm, scaleGrad, zeroGrad, type AdamWSegment } from './optimizer';

const gpu = useGpu();

function upload(shape: number[], data: ArrayLike<number>): Tensor {
  return Tensor.from(gpu().ctx, shape, Float32Array.from(data));
}

describe('gradient norm and clipping', () => {
  // Sizes: tiny, not a multiple of 256, and large enough to use all 32 partial workgroups.
  const sizes = [7, 65 * 3, 100_003];
  const data = sizes.map((n, i) => f32Round(testData(n, 30 + i)));

  it('global L2 norm over several tensors, with gradScale, no clipping', async () => {
    const grads = data.map((d, i) => upload([sizes[i]], d));
    const ref = gradNorm64(data, 0.25);
    const out = gradNorm(grads, { gradScale: 0.25 });
    const got = await readGradNorm(out);
    // Σ g² over ~1e5 terms: f32 partial sums of ≤ 100003/(32·256) ≈ 13 terms, then tree sums.
    expect(Math.abs(got.norm - ref.norm) / ref.norm).toBeLessThan(f32Tolerance(1000));
    expect(got.clipScale).toBe(1);
    for (const t of [...grads, out]) t.release();
  });

  it('clip scale min(1, maxNorm / (norm + 1e-6)) when the norm exceeds maxNorm', async () => {
    const grads = data.map((d, i) => upload([sizes[i]], d));
    const ref = gradNorm64(data, 1, 10);
    expect(ref.clipScale).toBeLessThan(1);
    const got = await readGradNorm(gradNorm(grads, { maxNorm: 10 }));
    expect(Math.abs(got.clipScale - ref.clipScale) / ref.clipScale).toBeLessThan(f32Tolerance(1000));
    const loose = await readGradNorm(gradNorm(grads, { maxNorm: 1e6 }));
    expect(loose.clipScale).toBe(1);
    for (const t of grads) t.release();
  });
});

describe('gradient norm of one small tensor (one launch)', () => {
  it('norm, clip scale and the non-finite guard in a single launch, against float64', async () => {
    const ctx = gpu().ctx;
    for (const n of [7, 65 * 3, 65536]) {
      const d = f32Round(testData(n, 60 + n));
      const g = upload([n], d);
      const ref = gradNorm64([d], 0.5, 1);
      const before = ctx.launches;
      const out = gradNorm([g], { gradScale: 0.5, maxNorm: 1 });
      expect(ctx.launches - before, `n = ${n}`).toBe(1);
      const got = await readGradNorm(out);
      // One workgroup: 256 strided f32 sums of ≤ 256 terms each, then a tree.
      expect(Math.abs(got.norm - ref.norm) / ref.norm, `n = ${n}`).toBeLessThan(f32Tolerance(256));
      expect(Math.abs(got.clipScale - ref.clipScale) / ref.clipScale, `n = ${n}`).toBeLessThan(f32Tolerance(256));
      expect(got.skipped).toBe(false);
      const bad = Float32Array.from(d);
      bad[n - 1] = Number.NaN;
      ctx.upload(g.buffer, bad);
      expect((await readGradNorm(gradNorm([g], { maxNorm: 1 }))).skipped, `NaN at the last of ${n}`).toBe(true);
      for (const t of [g, out]) t.release();
    }
    // Past the one-launch size, the two stages run as before.
    const big = upload([65537], f32Round(testData(65537, 70)));
    const before = ctx.launches;
    const out = gradNorm([big]);
    expect(ctx.launches - before).toBe(2);
    for (const t of [big, out]) t.release();
  });
});

describe('AdamW against float64', () => {
  // Parameter updates of size lr on values of size 1: f32 rounds p, m and v each step to a few
  // ulps, and m/√v is a ratio of two such values, so after 3 steps the error stays within a few
  // 1e-7 of the largest parameter; a wrong bias correction or decay is off by ≥ 1e-3.
  const TOL = 2e-6;
  const n = 1000;
  const p0 = f32Round(testData(n, 1));
  const gs = [2, 3, 4].map((s) => f32Round(testData(n, s, -0.1, 0.1)));

  for (const withClip of [false, true]) {
    it(`3 steps with weight decay and gradScale${withClip ? ', clipped by global norm read on the GPU' : ''}`, async () => {
      const p = upload([n], p0);
      const grad = Tensor.empty(gpu().ctx, [n]);
      const state = adamWState(p);
      const pr = p0.slice();
      const m = new Float64Array(n);
      const v = new Float64Array(n);
      const lrs = [1e-2, 5e-3, 2e-3];
      for (let step = 1; step <= 3; step++) {
        const g = gs[step - 1];
        grad.ctx.upload(grad.buffer, Float32Array.from(g));
        const o = { lr: lrs[step - 1], step, weightDecay: 0.05, gradScale: 0.5 };
        let s = 0.5;
        if (withClip) {
          const norm = gradNorm([grad], { maxNorm: 0.5, gradScale: 0.5 });
          const ref = gradNorm64([g], 0.5, 0.5);
          expect(ref.clipScale).toBeLessThan(1);
          s *= ref.clipScale;
          adamWStep(p, grad, state, { ...o, clip: norm });
          norm.release();
        } else {
          adamWStep(p, grad, state, o);
        }
        adamw64(pr, g, m, v, { ...o, gradScale: s });
        // Each step is checked before the next upload changes the gradient.
        expect(maxRelError(await p.read(), pr)).toBeLessThan(TOL);
      }
      expect(maxRelError(await state.m.read(), m)).toBeLessThan(TOL);
      expect(maxRelError(await state.v.read(), v)).toBeLessThan(TOL);
      expect(() => adamWStep(p, grad, state, { lr: 1e-3, step: 0 })).toThrow(/step must be a positive integer/);
      for (const t of [p, grad, state.m, state.v]) t.release();
    });
  }
});

describe('multi-tensor AdamW (one launch for many tensors)', () => {
  const TOL = 2e-6;
  // Odd sizes, a gap between two slices, and four lr / decay groups; the slice at 400 skips.
  const layout: Array<Omit<AdamWSegment, 'lr' | 'weightDecay'> & { group: number }> = [
    { offset: 0, size: 1, group: 0 },
    { offset: 1, size: 7, group: 1 },
    { offset: 8, size: 65, group: 2 },
    { offset: 80, size: 300, group: 3 },
    { offset: 400, size: 33, group: 0, active: false },
    { offset: 433, size: 1031, group: 1 },
  ];
  const total = 1464;
  const groups = (step: number) => [
    { lr: 1e-2 / step, weightDecay: 0.05 },
    { lr: 3e-3, weightDecay: 0 },
    { lr: 2e-2 / step, weightDecay: 0 },
    { lr: 5e-3, weightDecay: 0.1 },
  ];

  it('matches float64 per slice and per-tensor adamWStep bit for bit, clipped, 3 steps', async () => {
    const ctx = gpu().ctx;
    const p0 = f32Round(testData(total, 61));
    const flatP = upload([total], p0);
    const flatG = Tensor.empty(ctx, [total]);
    const flatState = adamWState(flatP);
    // The same tensors updated one launch each.
    const own = layout.map((s) => ({ p: upload([s.size], p0.subarray(s.offset, s.offset + s.size)), g: Tensor.empty(ctx, [s.size]) }));
    const ownState = own.map((t) => adamWState(t.p));
    const ref = layout.map((s) => ({ p: p0.slice(s.offset, s.offset + s.size), m: new Float64Array(s.size), v: new Float64Array(s.size) }));
    for (let step = 1; step <= 3; step++) {
      const g = f32Round(testData(total, 70 + step, -0.1, 0.1));
      ctx.upload(flatG.buffer, Float32Array.from(g));
      const slices = layout.map((s) => g.subarray(s.offset, s.offset + s.size));
      own.forEach((t, i) => ctx.upload(t.g.buffer, Float32Array.from(slices[i])));
      const norm = gradNorm(own.map((t) => t.g), { maxNorm: 0.5, gradScale: 0.5 });
      const refNorm = gradNorm64(slices, 0.5, 0.5);
      expect(refNorm.clipScale).toBeLessThan(1);
      const hyper = groups(step);
      adamWStepMulti(flatP, flatG, flatState, layout.map((s) => ({ ...s, ...hyper[s.group] })), { step, gradScale: 0.5, clip: norm });
      layout.forEach((s, i) => {
        if (s.active === false) return;
        adamWStep(own[i].p, own[i].g, ownState[i], { ...hyper[s.group], step, gradScale: 0.5, clip: norm });
        adamw64(ref[i].p, slices[i], ref[i].m, ref[i].v, { ...hyper[s.group], step, gradScale: 0.5 * refNorm.clipScale });
      });
      norm.release();
    }
    const [p, m, v] = await Promise.all([flatP.read(), flatState.m.read(), flatState.v.read()]);
    for (const [i, s] of layout.entries()) {
      const at = (a: Float32Array) => Array.from(a.subarray(s.offset, s.offset + s.size));
      if (s.active === false) {
        expect(at(p), 'an inactive slice keeps its values').toEqual(Array.from(p0.subarray(s.offset, s.offset + s.size), Math.fround));
        expect(at(m).every((x) => x === 0)).toBe(true);
        continue;
      }
      expect(at(p), `slice ${i} equals per-tensor AdamW`).toEqual(Array.from(await own[i].p.read()));
      expect(at(m)).toEqual(Array.from(await ownState[i].m.read()));
      expect(at(v)).toEqual(Array.from(await ownState[i].v.read()));
      // Absolute, on values of size ≤ 1 (a one-value slice has no larger neighbour to scale by).
      const maxAbs = (a: number[], b: Float64Array) => Math.max(...a.map((x, j) => Math.abs(x - b[j])));
      expect(maxAbs(at(p), ref[i].p), `slice ${i} vs float64`).toBeLessThan(TOL);
      expect(maxAbs(at(m), ref[i].m)).toBeLessThan(TOL);
    }
    // The gap (380…399) is no slice's and stays as it was.
    expect(Array.from(p.subarray(380, 400))).toEqual(Array.from(p0.subarray(380, 400), Math.fround));
    expect(() => adamWStepMulti(flatP, flatG, flatState, [{ offset: 8, size: 4, lr: 1, weightDecay: 0 }, { offset: 0, size: 4, lr: 1, weightDecay: 0 }], { step: 1 })).toThrow(/sorted/);
    for (const t of [flatP, flatG, flatState.m, flatState.v, ...own.flatMap((t) => [t.p, t.g]), ...ownState.flatMap((s) => [s.m, s.v])]) t.release();
  });

  it('more segments than one table holds take several launches with the same result', async () => {
    const ctx = gpu().ctx;
    // 1100 one- to three-value tensors: the largest table holds 1024.
    const sizes = Array.from({ length: 1100 }, (_, i) => 1 + (i % 3));
    const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const n = sizes.reduce((a, b) => a + b, 0);
    const p0 = f32Round(testData(n, 81));
    const g = f32Round(testData(n, 82, -0.1, 0.1));
    const flatP = upload([n], p0);
    const flatG = upload([n], g);
    const state = adamWState(flatP);
    const lrOf = (i: number) => (i % 2 ? 1e-2 : 4e-3);
    const before = ctx.launches;
    adamWStepMulti(flatP, flatG, state, sizes.map((size, i) => ({ offset: offsets[i], size, lr: lrOf(i), weightDecay: i % 5 ? 0.01 : 0 })), { step: 1 });
    expect(ctx.launches - before).toBe(2);
    const pr = p0.slice();
    sizes.forEach((size, i) => {
      const sl = (a: Float64Array) => a.subarray(offsets[i], offsets[i] + size);
      adamw64(sl(pr), g.subarray(offsets[i], offsets[i] + size), new Float64Array(size), new Float64Array(size), { lr: lrOf(i), step: 1, weightDecay: i % 5 ? 0.01 : 0 });
    });
    expect(maxRelError(await flatP.read(), pr)).toBeLessThan(TOL);
    for (const t of [flatP, flatG, state.m, state.v]) t.release();
  });
});

describe('divergence guard', () => {
  // A NaN or Inf anywhere in a gradient must leave parameters and moments exactly as they were,
  // decided on the GPU (no readback per step); `patience` bad steps in a row mark the run diverged,
  // after which even finite gradients change nothing.
  const n = 300;
  const p0 = f32Round(testData(n, 7));
  const good = f32Round(testData(n, 8, -0.1, 0.1));
  for (const poison of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    it(`skips the update when a gradient holds ${poison}, and counts the streak`, async () => {
      const ctx = gpu().ctx;
      const p = upload([n], p0);
      const grad = Tensor.empty(ctx, [n]);
      const other = upload([5], [1, 2, 3, 4, 5]);
      const otherParam = upload([5], [1, 1, 1, 1, 1]);
      const otherState = adamWState(otherParam);
      const state = adamWState(p);
      const health = Tensor.zeros(ctx, [GRAD_NORM_SIZE], 'health');
      const bad = Float32Array.from(good);
      bad[123] = poison;
      // step 1 good, steps 2–3 bad (streak 2 < patience 3), step 4 good (streak resets), 5–7 bad → diverged at 7, 8 good but skipped.
      const plan = [good, bad, bad, good, bad, bad, bad, good];
      let before = await p.read();
      for (let step = 1; step <= plan.length; step++) {
        ctx.upload(grad.buffer, Float32Array.from(plan[step - 1]));
        const norm = gradNorm([grad, other], { maxNorm: 1, out: health, health: { step, patience: 3 } });
        adamWStep(p, grad, state, { lr: 1e-2, step, weightDecay: 0.1, clip: norm });
        adamWStep(otherParam, other, otherState, { lr: 1e-2, step, clip: norm });
        const after = await p.read();
        const r = await readGradNorm(norm);
        const shouldSkip = plan[step - 1] === bad || step === 8;
        expect(r.skipped, `step ${step}`).toBe(shouldSkip);
        if (shouldSkip) expect(Array.from(after), `step ${step} left the weights alone`).toEqual(Array.from(before));
        else expect(Array.from(after).some((v, i) => v !== before[i]), `step ${step} updated`).toBe(true);
        expect(after.every(Number.isFinite)).toBe(true);
        expect(r.divergedAt).toBe(step >= 7 ? 7 : 0);
        before = after;
      }
      expect((await readGradNorm(health)).badSteps).toBe(5);
      expect((await state.m.read()).every(Number.isFinite)).toBe(true);
      for (const t of [p, grad, other, otherParam, otherState.m, otherState.v, state.m, state.v, health]) t.release();
    });
  }
});

describe('gradient accumulation', () => {
  it('accumulate, scale and zero', async () => {
    const a64 = f32Round(testData(65, 50));
    const b64 = f32Round(testData(65, 51));
    const acc = upload([65], a64);
    accumulateGrad(acc, upload([65], b64));
    scaleGrad(acc, 0.5);
    expect(maxRelError(await acc.read(), a64.map((v, i) => 0.5 * (v + b64[i])))).toBeLessThan(1e-7);
    zeroGrad(acc);
    expect(Array.from(await acc.read()).every((v) => v === 0)).toBe(true);
    acc.release();
  });
});
