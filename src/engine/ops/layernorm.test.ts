import { describe, expect, it } from 'vitest';
import { useGpu, testData, f32Tolerance, withReductionPath } from '../../testing/gpu';
import { cotangent, dot64, f32Round, numericGradient, relErr } from '../../testing/gradcheck';
import { Tensor } from '../tensor';
import { maxRelError } from '../reference/linalg';
import { layerNorm64, layerNormBackward64 } from '../reference/layernorm';
import { layerNorm, layerNormBackward } from './layernorm';

const gpu = useGpu();

function upload(shape: number[], data: ArrayLike<number>): Tensor {
  return Tensor.from(gpu().ctx, shape, Float32Array.from(data));
}

/** Inputs with a mean well away from 0 (2 ± 1), as residual streams have, to expose cancellation. */
function inputs(rows: number, cols: number, seed: number) {
  return {
    x: f32Round(testData(rows * cols, seed, 1, 3)),
    w: f32Round(testData(cols, seed + 1, 0.5, 1.5)),
    b: f32Round(testData(cols, seed + 2)),
    dy: f32Round(testData(rows * cols, seed + 3)),
  };
}

describe('layernorm float64 reference', () => {
  for (const eps of [1e-12, 1e-5]) {
    it(`backward matches central finite differences (eps ${eps})`, () => {
      const rows = 3;
      const cols = 5;
      const { x, w, b } = inputs(rows, cols, 7);
      const cot = cotangent(rows * cols, 8);
      const g = layerNormBackward64(cot, x, w, rows, cols, eps);
      const loss = (xx: Float64Array, ww: Float64Array, bb: Float64Array) => dot64(layerNorm64(xx, ww, bb, rows, cols, eps).y, cot);
      expect(relErr(g.dx, numericGradient((v) => loss(v, w, b), x))).toBeLessThan(1e-7);
      expect(relErr(g.dw, numericGradient((v) => loss(x, v, b), w))).toBeLessThan(1e-7);
      expect(relErr(g.db, numericGradient((v) => loss(x, w, v), b))).toBeLessThan(1e-7);
    });
  }
});

describe('layernorm on the GPU against float64', () => {
  // (rows, cols, eps): ViT's 1e-12 and CLIP's 1e-5; 591 rows exceed the single-pass limit of the
  // parameter-gradient reduction, so that case takes the chunked two-stage path.
  const cases = [
    { rows: 7, cols: 12, eps: 1e-12 },
    { rows: 2 * 197, cols: 64, eps: 1e-5 },
    { rows: 3 * 197, cols: 12, eps: 1e-12 },
    // Rows over 256 values take the 64-lane reduction instead of one invocation per row.
    { rows: 5, cols: 300, eps: 1e-12 },
  ];
  for (const { rows, cols, eps } of cases) {
    it(`${rows}x${cols} eps ${eps}: forward, then dx, dweight, dbias (written and accumulated)`, async () => {
      const { ctx } = gpu();
      const d = inputs(rows, cols, rows + cols);
      const ref = layerNorm64(d.x, d.w, d.b, rows, cols, eps);
      const refG = layerNormBackward64(d.dy, d.x, d.w, rows, cols, eps);
      const x = upload([rows, cols], d.x);
      const w = upload([cols], d.w);
      const b = upload([cols], d.b);
      const dy = upload([rows, cols], d.dy);
      const fwd = layerNorm(x, w, b, eps);
      // The centred values carry the f32 rounding of x and of an n-term mean (≈ n·2⁻²⁴·|μ|),
      // magnified by rstd ≈ √3 and |w| ≤ 1.5: f32Tolerance(cols) with a factor 4 for |μ|/σ ≈ 3.5.
      const fwdTol = 4 * f32Tolerance(cols);
      expect(maxRelError(await fwd.y.read(), ref.y)).toBeLessThan(fwdTol);
      expect(maxRelError(await fwd.mean.read(), ref.mean)).toBeLessThan(f32Tolerance(cols));
      expect(maxRelError(await fwd.rstd.read(), ref.rstd)).toBeLessThan(fwdTol);

      const g = layerNormBackward(dy, x, w, fwd, { weightGrad: true });
      // dx: two n-term row sums and x̂ as above; dweight / dbias: sums over `rows` terms.
      expect(maxRelError(await g.dx!.read(), refG.dx)).toBeLessThan(4 * f32Tolerance(cols));
      expect(maxRelError(await g.dweight!.read(), refG.dw)).toBeLessThan(4 * f32Tolerance(rows));
      expect(maxRelError(await g.dbias!.read(), refG.db)).toBeLessThan(f32Tolerance(rows));

      // Accumulating: dx += (residual), dweight/dbias += (a second micro-batch).
      const dx0 = f32Round(testData(rows * cols, 99));
      const dxAcc = upload([rows, cols], dx0);
      layerNormBackward(dy, x, w, fwd, { dx: dxAcc, accumulateInput: true, dweight: g.dweight, dbias: g.dbias, accumulateParams: true });
      expect(maxRelError(await dxAcc.read(), refG.dx.map((v, i) => v + dx0[i]))).toBeLessThan(4 * f32Tolerance(cols));
      expect(maxRelError(await g.dweight!.read(), refG.dw.map((v) => 2 * v))).toBeLessThan(4 * f32Tolerance(rows));
      expect(maxRelError(await g.dbias!.read(), refG.db.map((v) => 2 * v))).toBeLessThan(f32Tolerance(rows));
      for (const t of [x, w, b, dy, fwd.y, fwd.mean, fwd.rstd, g.dx!, g.dweight!, g.dbias!, dxAcc]) t.release();
      void ctx;
    });
  }

  it('frozen layer norm: only dx, or only dbias, when asked', async () => {
    const rows = 7;
    const cols = 12;
    const d = inputs(rows, cols, 3);
    const refG = layerNormBackward64(d.dy, d.x, d.w, rows, cols, 1e-5);
    const x = upload([rows, cols], d.x);
    const w = upload([cols], d.w);
    const b = upload([cols], d.b);
    const dy = upload([rows, cols], d.dy);
    const fwd = layerNorm(x, w, b, 1e-5);
    const frozen = layerNormBackward(dy, x, w, fwd);
    expect(frozen.dweight).toBeUndefined();
    expect(frozen.dbias).toBeUndefined();
    expect(maxRelError(await frozen.dx!.read(), refG.dx)).toBeLessThan(4 * f32Tolerance(cols));
    const biasOnly = layerNormBackward(dy, x, w, fwd, { inputGrad: false, biasGrad: true });
    expect(biasOnly.dx).toBeUndefined();
    expect(biasOnly.dweight).toBeUndefined();
    expect(maxRelError(await biasOnly.dbias!.read(), refG.db)).toBeLessThan(f32Tolerance(rows));
    expect(() => layerNorm(x, upload([cols + 1], testData(cols + 1, 1)), b, 1e-5)).toThrow(/weight has shape \[13\], needs 12/);
    for (const t of [x, w, b, dy, fwd.y, fwd.mean, fwd.rstd, frozen.dx!, biasOnly.dbias!]) t.release();
  });
});

describe('layernorm: subgroup and plain reductions', () => {
  // 7 and 33 columns take the one-invocation-per-row path (no cross-lane sum: both paths run the
  // same code); 257 and 1000 take the 64-lane reduction, where the subgroup variant differs.
  const shapes = [
    { rows: 3, cols: 7 },
    { rows: 5, cols: 33 },
    { rows: 5, cols: 257 },
    { rows: 3, cols: 1000 },
  ];
  for (const { rows, cols } of shapes) {
    it(`${rows}x${cols}: forward and backward agree with float64 on both paths, and with each other`, async () => {
      const { ctx } = gpu();
      const eps = 1e-5;
      const d = inputs(rows, cols, 5 * rows + cols);
      const ref = layerNorm64(d.x, d.w, d.b, rows, cols, eps);
      const refG = layerNormBackward64(d.dy, d.x, d.w, rows, cols, eps);
      const x = upload([rows, cols], d.x);
      const w = upload([cols], d.w);
      const b = upload([cols], d.b);
      const dy = upload([rows, cols], d.dy);
      const run = (subgroups: boolean) =>
        withReductionPath(ctx, subgroups, async () => {
          const fwd = layerNorm(x, w, b, eps);
          const g = layerNormBackward(dy, x, w, fwd, { weightGrad: true });
          const out = { y: await fwd.y.read(), mean: await fwd.mean.read(), rstd: await fwd.rstd.read(), dx: await g.dx!.read(), dw: await g.dweight!.read() };
          for (const t of [fwd.y, fwd.mean, fwd.rstd, g.dx!, g.dweight!, g.dbias!]) t.release();
          return out;
        });
      const plain = await run(false);
      const sub = await run(true);
      for (const r of [plain, sub]) {
        expect(maxRelError(r.y, ref.y)).toBeLessThan(4 * f32Tolerance(cols));
        expect(maxRelError(r.mean, ref.mean)).toBeLessThan(f32Tolerance(cols));
        expect(maxRelError(r.rstd, ref.rstd)).toBeLessThan(4 * f32Tolerance(cols));
        expect(maxRelError(r.dx, refG.dx)).toBeLessThan(4 * f32Tolerance(cols));
        expect(maxRelError(r.dw, refG.dw)).toBeLessThan(4 * f32Tolerance(rows));
      }
      // The paths only reorder an f32 sum: a few ulps of the row's scale, far below the reference tolerance.
      expect(maxRelError(sub.y, plain.y)).toBeLessThan(cols > 256 ? 2e-6 : 1e-12);
      expect(maxRelError(sub.mean, plain.mean)).toBeLessThan(cols > 256 ? 2e-6 : 1e-12);
      expect(maxRelError(sub.rstd, plain.rstd)).toBeLessThan(cols > 256 ? 2e-6 : 1e-12);
      expect(maxRelError(sub.dx, plain.dx)).toBeLessThan(cols > 256 ? 2e-6 : 1e-12);
      for (const t of [x, w, b, dy]) t.release();
    });
  }
});
