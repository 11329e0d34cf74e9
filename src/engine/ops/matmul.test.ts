import { describe, expect, it } from 'vitest';
import { useGpu, testData, f32Tolerance } from '../../testing/gpu';
import { Tensor } from '../tensor';
import { matmul, type Activation } from './matmul';
import { TILING_CANDIDATES, tilingId, type Tiling } from './matmulTiling';
import { activation64, mat, matmul64, maxRelError, transpose } from '../reference/linalg';

const gpu = useGpu();

interface Case {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  act?: Activation;
  alpha?: number;
  beta?: number;
  batch?: number;
}

async function check(c: Case, seed: number, tiling?: Tiling): Promise<Float32Array> {
  const { ctx } = gpu();
  const batch = c.batch ?? 1;
  const aRows = c.transA ? c.K : c.M;
  const aCols = c.transA ? c.M : c.K;
  const bRows = c.transB ? c.N : c.K;
  const bCols = c.transB ? c.K : c.N;
  const aData = testData(batch * aRows * aCols, seed);
  const bData = testData(aRows === 0 ? 0 : bRows * bCols, seed + 1);
  const biasData = testData(c.N, seed + 2);
  const cData = testData(batch * c.M * c.N, seed + 3);
  const lead = batch > 1 ? [batch] : [];
  const a = Tensor.from(ctx, [...lead, aRows, aCols], Float32Array.from(aData));
  const b = Tensor.from(ctx, [bRows, bCols], Float32Array.from(bData));
  const bias = c.bias ? Tensor.from(ctx, [c.N], Float32Array.from(biasData)) : undefined;
  const out = c.beta ? Tensor.from(ctx, [...lead, c.M, c.N], Float32Array.from(cData)) : undefined;
  const result = matmul(a, b, { transA: c.transA, transB: c.transB, bias, activation: c.act, alpha: c.alpha, beta: c.beta, out, tiling });
  const got = await result.read();

  const want = new Float64Array(batch * c.M * c.N);
  for (let bi = 0; bi < batch; bi++) {
    let A = mat(aRows, aCols, aData.subarray(bi * aRows * aCols, (bi + 1) * aRows * aCols));
    let B = mat(bRows, bCols, bData);
    if (c.transA) A = transpose(A);
    if (c.transB) B = transpose(B);
    const P = matmul64(A, B);
    for (let i = 0; i < c.M; i++) {
      for (let j = 0; j < c.N; j++) {
        const idx = bi * c.M * c.N + i * c.N + j;
        let v = (c.alpha ?? 1) * P.data[i * c.N + j];
        if (c.beta) v += c.beta * Float32Array.from([cData[idx]])[0];
        if (c.bias) v += Math.fround(biasData[j]);
        want[idx] = activation64(v, c.act ?? 'none');
      }
    }
  }
  // Inputs were rounded to f32 on upload, so compare against the reference on those rounded values.
  expect(maxRelError(got, want)).toBeLessThan(f32Tolerance(c.K) + 4e-6);
  for (const t of [a, b, bias, out, result]) t?.release();
  return got;
}

describe('matmul against a float64 reference', () => {
  const cases: Case[] = [
    { M: 1, N: 1, K: 1 },
    { M: 7, N: 65, K: 1 },
    { M: 65, N: 7, K: 197 },
    { M: 197, N: 65, K: 7, transB: true },
    { M: 7, N: 197, K: 65, transA: true },
    { M: 65, N: 65, K: 65, transA: true, transB: true },
    { M: 197, N: 96, K: 768, transB: true, bias: true },
    { M: 33, N: 70, K: 40, bias: true, act: 'gelu' },
    { M: 33, N: 70, K: 40, act: 'quick_gelu', alpha: 0.5 },
    { M: 20, N: 9, K: 130, act: 'relu', beta: 1, alpha: -2 },
    { M: 17, N: 23, K: 19, batch: 3, transB: true, beta: 0.5 },
  ];
  cases.forEach((c, i) => {
    it(`${c.batch ? `${c.batch}x` : ''}${c.M}x${c.K}·${c.K}x${c.N}${c.transA ? ' Aᵀ' : ''}${c.transB ? ' Bᵀ' : ''}${c.bias ? ' +bias' : ''}${c.act ? ` ${c.act}` : ''}${c.beta ? ` beta=${c.beta}` : ''}`, async () => {
      // Random inputs are made from the real values, so the inputs themselves must be f32-exact.
      await check(c, 100 + 10 * i);
    });
  });

  it('refuses mismatched inner dimensions with the shapes in the message', () => {
    const { ctx } = gpu();
    const a = Tensor.zeros(ctx, [3, 4]);
    const b = Tensor.zeros(ctx, [5, 6]);
    expect(() => matmul(a, b)).toThrow(/3x4.*5x6/);
    a.release();
    b.release();
  });
});

// The autotuner may pick any candidate tiling for any shape on a device, so each one must be right
// on odd sizes (partial tiles both ways, K not a multiple of the staging depth), transposes,
// batches and the epilogue; and since each sums over k in the same order, all agree bit for bit.
describe('every autotuning candidate tiling against a float64 reference', () => {
  const cases: Case[] = [
    { M: 1, N: 1, K: 1 },
    { M: 37, N: 70, K: 19, transB: true, bias: true, act: 'gelu' },
    { M: 65, N: 7, K: 33, transA: true },
    { M: 17, N: 23, K: 19, batch: 3, transB: true, beta: 0.5 },
  ];
  for (const [i, c] of cases.entries()) {
    it(`${c.batch ? `${c.batch}x` : ''}${c.M}x${c.K}·${c.K}x${c.N}: ${TILING_CANDIDATES.map(tilingId).join(', ')}`, async () => {
      const results: Float32Array[] = [];
      for (const t of TILING_CANDIDATES) results.push(await check(c, 500 + 10 * i, t));
      for (const [j, r] of results.entries()) {
        expect(Buffer.from(r.buffer).equals(Buffer.from(results[0].buffer)), `${tilingId(TILING_CANDIDATES[j])} differs from ${tilingId(TILING_CANDIDATES[0])}`).toBe(true);
      }
    });
  }
});
