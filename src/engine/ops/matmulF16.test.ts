/**
 * GEMM with B stored as packed f16 pairs (mixed precision's frozen weights) against float64.
 * Two bounds: against the product with B rounded to f16, the plain f32 tolerance (the kernel
 * widens each f16 exactly and accumulates in f32); against the product with the unrounded B, the
 * f16 rounding of B: |Δc| ≤ 2⁻¹¹·Σ_k |a_ik|·|b_kj| (round to nearest, 11-bit significand), taken
 * per output element so a wrong index or half-word fails even where outputs are small.
 */
import { getFloat16, setFloat16 } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { f32Tolerance, testData, useGpu } from '../../testing/gpu';
import { mat, matmul64, maxRelError, transpose } from '../reference/linalg';
import { Tensor } from '../tensor';
import { matmul, matmulSplitDepth, matmulSplitOutputs } from './matmul';
import { TILING_CANDIDATES } from './matmulTiling';

const gpu = useGpu();

function toF16(x: number): number {
  const v = new DataView(new ArrayBuffer(2));
  setFloat16(v, 0, x, true);
  return getFloat16(v, 0, true);
}

interface Case {
  M: number;
  N: number;
  K: number;
  transB?: boolean;
  batch?: number;
  bias?: boolean;
}

async function check(c: Case, seed: number, tilingIndex?: number): Promise<void> {
  const { ctx } = gpu();
  const batch = c.batch ?? 1;
  const bRows = c.transB ? c.N : c.K;
  const bCols = c.transB ? c.K : c.N;
  const aData = Float64Array.from(Float32Array.from(testData(batch * c.M * c.K, seed)));
  const bData = Float64Array.from(Float32Array.from(testData(bRows * bCols, seed + 1)));
  const biasData = Float64Array.from(Float32Array.from(testData(c.N, seed + 2)));
  const lead = batch > 1 ? [batch] : [];
  const a = Tensor.from(ctx, [...lead, c.M, c.K], Float32Array.from(aData));
  const b = Tensor.fromF16(ctx, [bRows, bCols], bData);
  const bias = c.bias ? Tensor.from(ctx, [c.N], Float32Array.from(biasData)) : undefined;
  expect(b.dtype).toBe('f16');
  expect(b.bytes).toBe(Math.ceil((bRows * bCols) / 2) * 4);
  // The packed tensor reads back as exactly the f16-rounded values.
  const back = await b.read();
  for (let i = 0; i < bData.length; i++) expect(back[i]).toBe(toF16(bData[i]));
  const tiling = tilingIndex === undefined ? undefined : TILING_CANDIDATES[tilingIndex];
  const got = await matmul(a, b, { transB: c.transB, bias, tiling }).read();

  const rounded = bData.map(toF16);
  let Bh = mat(bRows, bCols, rounded);
  let B = mat(bRows, bCols, bData);
  let Babs = mat(bRows, bCols, bData.map(Math.abs));
  if (c.transB) {
    Bh = transpose(Bh);
    B = transpose(B);
    Babs = transpose(Babs);
  }
  const wantH = new Float64Array(batch * c.M * c.N);
  for (let bi = 0; bi < batch; bi++) {
    const A = mat(c.M, c.K, aData.subarray(bi * c.M * c.K, (bi + 1) * c.M * c.K));
    const Aabs = mat(c.M, c.K, A.data.map(Math.abs));
    const Ph = matmul64(A, Bh);
    const P = matmul64(A, B);
    const bound = matmul64(Aabs, Babs);
    for (let i = 0; i < c.M * c.N; i++) {
      const extra = c.bias ? biasData[i % c.N] : 0;
      wantH[bi * c.M * c.N + i] = Ph.data[i] + extra;
      const exact = P.data[i] + extra;
      // f16 rounding of B, plus the f32 accumulation's own rounding.
      const tol = 2 ** -11 * bound.data[i] + f32Tolerance(c.K) * (bound.data[i] + Math.abs(extra));
      expect(Math.abs(got[bi * c.M * c.N + i] - exact)).toBeLessThanOrEqual(tol);
    }
  }
  expect(maxRelError(got, wantH)).toBeLessThan(f32Tolerance(c.K) + 4e-6);
  a.release();
  b.release();
  bias?.release();
}

describe('matmul with B in f16 (packed pairs)', () => {
  it('x·Wᵀ + b, the linear forward, at odd shapes', async () => {
    await check({ M: 7, N: 65, K: 33, transB: true, bias: true }, 1);
    await check({ M: 1, N: 1, K: 1, transB: true }, 2);
  });
  it('dY·W, the input gradient, with an odd element count (last word half used)', async () => {
    await check({ M: 9, N: 33, K: 7 }, 3);
  });
  it('batched A over a shared f16 B, and the smallest and largest candidate tilings', async () => {
    await check({ M: 5, N: 17, K: 19, transB: true, batch: 3 }, 4);
    for (const t of [0, TILING_CANDIDATES.length - 1]) await check({ M: 13, N: 37, K: 29, transB: true }, 10 + t, t);
  });
  it('refuses f16 where it is not supported, and values beyond f16 range', () => {
    const { ctx } = gpu();
    const h = Tensor.fromF16(ctx, [2, 2], [1, 2, 3, 4], 'h');
    const f = Tensor.from(ctx, [2, 2], [1, 2, 3, 4], 'f');
    expect(() => matmul(h, f)).toThrow(/operand A "h" is stored in f16/);
    expect(() => Tensor.fromF16(ctx, [1, 2], [1, 70000], 'big')).toThrow(/70000 at index 1 is outside f16's range/);
    h.release();
    f.release();
  });
  it('split GEMMs (Q, K and V of frozen f16 weights) equal the same GEMMs on f32 copies of the rounded weights, bit for bit', async () => {
    const { ctx } = gpu();
    const [M, S, K] = [9, 13, 11];
    const x = Tensor.from(ctx, [M, K], testData(M * K, 40));
    const raw = [0, 1, 2].map((i) => Float64Array.from(testData(S * K, 41 + i)));
    const wh = raw.map((d, i) => Tensor.fromF16(ctx, [S, K], d, `w${i}`)) as [Tensor, Tensor, Tensor];
    const wf = raw.map((d, i) => Tensor.from(ctx, [S, K], Float32Array.from(d.map(toF16)), `wf${i}`)) as [Tensor, Tensor, Tensor];
    const outH = matmulSplitOutputs(x, wh, { transB: true });
    const outF = matmulSplitOutputs(x, wf, { transB: true });
    for (let i = 0; i < 3; i++) expect(Array.from(await outH[i].read())).toEqual(Array.from(await outF[i].read()));
    // The input gradient dQ·Wq + dK·Wk + dV·Wv over the same weights (B not transposed).
    const dy = [0, 1, 2].map((i) => Tensor.from(ctx, [M, S], testData(M * S, 50 + i))) as [Tensor, Tensor, Tensor];
    const dxH = await matmulSplitDepth(dy, wh).read();
    const dxF = await matmulSplitDepth(dy, wf).read();
    expect(Array.from(dxH)).toEqual(Array.from(dxF));
    expect(() => matmulSplitOutputs(x, [wh[0], wf[1], wh[2]], { transB: true })).toThrow(/three B parts are stored in f16, f32, f16/);
    for (const t of [x, ...wh, ...wf, ...outH, ...outF, ...dy]) t.release();
  });
  it('a residual stored in f16 (W + ΔW formed from a frozen f16 W) equals the residual of its f32 copy, bit for bit', async () => {
    const { ctx } = gpu();
    const [M, N, K] = [13, 7, 5];
    const a = Tensor.from(ctx, [M, K], testData(M * K, 60));
    const b = Tensor.from(ctx, [K, N], testData(K * N, 61));
    const raw = Float64Array.from(testData(M * N, 62, -3, 3));
    // M·N is odd: the last value sits alone in the low half of its word.
    const rh = Tensor.fromF16(ctx, [M, N], raw, 'w16');
    const rf = Tensor.from(ctx, [M, N], Float32Array.from(raw.map(toF16)), 'w32');
    const outH = await matmul(a, b, { alpha: 0.5, residual: rh }).read();
    const outF = await matmul(a, b, { alpha: 0.5, residual: rf }).read();
    expect(Array.from(outH)).toEqual(Array.from(outF));
    // And it is the residual plus the product, not either alone.
    const prod = await matmul(a, b, { alpha: 0.5 }).read();
    for (let i = 0; i < M * N; i++) expect(outF[i]).toBeCloseTo(prod[i] + toF16(raw[i]), 5);
    for (const t of [a, b, rh, rf]) t.release();
  });
});
