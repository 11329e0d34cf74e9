import { describe, expect, it } from 'vitest';
import { useGpu, testData, f32Tolerance, withReductionPath } from '../../testing/gpu';
import { f32Round, numericGradient, relErr } from '../../testing/gradcheck';
import { Tensor } from '../tensor';
import { maxRelError } from '../reference/linalg';
import { crossEntropy64 } from '../reference/crossEntropy';
import { argmax, crossEntropy, labelTensor, readStats } from './crossEntropy';

const gpu = useGpu();

function labelsFor(B: number, C: number, seed: number): number[] {
  return Array.from(testData(B, seed, 0, C), (v) => Math.min(C - 1, Math.floor(v)));
}

describe('cross-entropy float64 reference', () => {
  for (const smoothing of [0, 0.1]) {
    it(`dlogits of the mean loss match central finite differences (smoothing ${smoothing}, one ignored label)`, () => {
      const [B, C] = [4, 5];
      const logits = testData(B * C, 1, -3, 3);
      const labels = [2, -100, 0, 4];
      const ref = crossEntropy64(logits, labels, B, C, smoothing);
      expect(ref.count).toBe(3);
      const fd = numericGradient((x) => crossEntropy64(x, labels, B, C, smoothing).mean, logits);
      expect(relErr(ref.dlogits, fd)).toBeLessThan(1e-8);
      // The smoothed loss is the cross-entropy against the smoothed target distribution.
      const lse = Math.log(Array.from({ length: C }, (_, j) => Math.exp(logits[j])).reduce((a, b) => a + b));
      const direct = Array.from({ length: C }, (_, j) => -(smoothing / C + (j === 2 ? 1 - smoothing : 0)) * (logits[j] - lse)).reduce((a, b) => a + b);
      expect(ref.losses[0]).toBeCloseTo(direct, 12);
    });
  }
});

describe('cross-entropy on the GPU against float64', () => {
  const cases = [
    { B: 7, C: 10, smoothing: 0 },
    { B: 2, C: 1000, smoothing: 0.1 },
    { B: 33, C: 3, smoothing: 0.2 },
  ];
  for (const { B, C, smoothing } of cases) {
    it(`B=${B} C=${C} smoothing ${smoothing}: losses, predictions, dlogits, stats`, async () => {
      const { ctx } = gpu();
      const logits64 = f32Round(testData(B * C, B + C, -4, 4));
      const labels = labelsFor(B, C, B * C);
      if (B > 2) labels[1] = -100;
      const ref = crossEntropy64(logits64, labels, B, C, smoothing);
      const logits = Tensor.from(ctx, [B, C], Float32Array.from(logits64));
      const lab = labelTensor(ctx, labels, C);
      const r = crossEntropy(logits, lab, { smoothing });
      // lse is a C-term f32 sum of values ≤ 1 plus a log; losses and softmax terms inherit
      // f32Tolerance(C) relative to their size (losses ≈ log C + a few units).
      expect(maxRelError(await r.losses.read(), ref.losses)).toBeLessThan(f32Tolerance(C));
      expect(Array.from(await r.predictions.read())).toEqual(Array.from(ref.predictions));
      expect(maxRelError(await r.dlogits!.read(), ref.dlogits)).toBeLessThan(f32Tolerance(C));
      const s = await readStats(r.stats);
      expect(s.count).toBe(ref.count);
      expect(s.correct).toBe(ref.correct);
      expect(Math.abs(s.meanLoss - ref.mean) / ref.mean).toBeLessThan(f32Tolerance(C) + f32Tolerance(B));
      expect(s.accuracy).toBeCloseTo(ref.correct / ref.count, 6);
      // Accumulating a second identical batch doubles sums and counts, keeps the mean, and
      // gradScale scales dlogits.
      crossEntropy(logits, lab, { smoothing, stats: r.stats, accumulateStats: true, dlogits: r.dlogits, gradScale: 0.5 });
      const s2 = await readStats(r.stats);
      expect(s2.count).toBe(2 * ref.count);
      expect(Math.abs(s2.lossSum - 2 * ref.mean * ref.count) / (ref.mean * ref.count)).toBeLessThan(f32Tolerance(C) + f32Tolerance(B));
      expect(Math.abs(s2.meanLoss - ref.mean) / ref.mean).toBeLessThan(f32Tolerance(C) + f32Tolerance(B));
      expect(maxRelError(await r.dlogits!.read(), ref.dlogits.map((v) => v / 2))).toBeLessThan(f32Tolerance(C));
      for (const t of [logits, lab, r.losses, r.predictions, r.stats, r.dlogits!]) t.release();
    });
  }

  it('evaluation: no gradient, and argmax alone (first maximum on ties)', async () => {
    const { ctx } = gpu();
    const logits = Tensor.from(ctx, [3, 4], [0, 2, 2, 1, -1, -5, -0.5, -3, 7, 7, 7, 7]);
    const r = crossEntropy(logits, labelTensor(ctx, [2, 2, -1], 4), { grad: false });
    expect(r.dlogits).toBeUndefined();
    expect(Array.from(await r.predictions.read())).toEqual([1, 2, 0]);
    const s = await readStats(r.stats);
    expect([s.count, s.correct, s.accuracy]).toEqual([2, 1, 0.5]);
    expect(Array.from(await argmax(logits).read())).toEqual([1, 2, 0]);
    expect(() => labelTensor(ctx, [0, 4], 4)).toThrow(/labels\[1\] is 4, but the model has 4 classes/);
    expect(() => crossEntropy(logits, labelTensor(ctx, [0, 1], 4))).toThrow(/2 labels for a batch of 3/);
  });
});

describe('cross-entropy: subgroup and plain reductions', () => {
  // C spans fewer classes than the 256-wide workgroup (7, 33, 257 = one over) and several per
  // invocation (1000); each case has an ignored label and label smoothing.
  const cases = [
    { B: 7, C: 7 },
    { B: 5, C: 33 },
    { B: 3, C: 257 },
    { B: 2, C: 1000 },
  ];
  for (const { B, C } of cases) {
    it(`B=${B} C=${C}: losses, predictions, dlogits and stats agree with float64 on both paths, and with each other`, async () => {
      const { ctx } = gpu();
      const smoothing = 0.1;
      const logits64 = f32Round(testData(B * C, 3 * B + C, -4, 4));
      const labels = labelsFor(B, C, B + 2 * C);
      labels[1] = -100;
      const ref = crossEntropy64(logits64, labels, B, C, smoothing);
      const logits = Tensor.from(ctx, [B, C], Float32Array.from(logits64));
      const lab = labelTensor(ctx, labels, C);
      const run = (subgroups: boolean) =>
        withReductionPath(ctx, subgroups, async () => {
          const r = crossEntropy(logits, lab, { smoothing });
          const out = { losses: await r.losses.read(), preds: Array.from(await r.predictions.read()), d: await r.dlogits!.read(), stats: await readStats(r.stats) };
          for (const t of [r.losses, r.predictions, r.stats, r.dlogits!]) t.release();
          return out;
        });
      const plain = await run(false);
      const sub = await run(true);
      for (const r of [plain, sub]) {
        expect(maxRelError(r.losses, ref.losses)).toBeLessThan(f32Tolerance(C));
        expect(r.preds).toEqual(Array.from(ref.predictions));
        expect(maxRelError(r.d, ref.dlogits)).toBeLessThan(f32Tolerance(C));
        expect([r.stats.count, r.stats.correct]).toEqual([ref.count, ref.correct]);
        expect(Math.abs(r.stats.meanLoss - ref.mean) / ref.mean).toBeLessThan(f32Tolerance(C) + f32Tolerance(B));
      }
      // The sums only reorder; the argmax and the counts are exact.
      expect(maxRelError(sub.losses, plain.losses)).toBeLessThan(2e-6);
      expect(maxRelError(sub.d, plain.d)).toBeLessThan(2e-6);
      expect(sub.preds).toEqual(plain.preds);
      expect(sub.stats.count).toBe(plain.stats.count);
      for (const t of [logits, lab]) t.release();
    });
  }

  it('argmax ties go to the first maximum on both paths, within and across subgroups', async () => {
    const { ctx } = gpu();
    const C = 300;
    const rows = [
      [299, 7, 260], // maxima handled by different invocations (j and j + 256 share one)
      [3, 2, 1], // neighbours: the same subgroup on any subgroup size ≥ 4
      [200, 100], // far apart: different subgroups on small subgroup sizes
      [260, 10], // the first maximum sits on a later invocation (10) than the other one (260 → 4)
    ];
    const data = new Float32Array(rows.length * C).fill(-1);
    rows.forEach((at, r) => at.forEach((j) => (data[r * C + j] = 5)));
    const logits = Tensor.from(ctx, [rows.length, C], data);
    for (const subgroups of [false, true]) {
      await withReductionPath(ctx, subgroups, async () => {
        const p = argmax(logits);
        expect(Array.from(await p.read())).toEqual(rows.map((at) => Math.min(...at)));
        p.release();
      });
    }
    logits.release();
  });
});
