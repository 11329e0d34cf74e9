import { describe, expect, it } from 'vitest';
import { useGpu, testData, f32Data, f32Tolerance } from '../../testing/gpu';
import { Tensor } from '../tensor';
import { canSplitOutputs, matmul, matmulSplitDepth, matmulSplitOutputs, type Activation } from './matmul';
import { activation as activationOp, activationBackward, add } from './elementwise';
import { TILING_CANDIDATES, tilingId, type Tiling } from './matmulTiling';
import { activation64, mat, matmul64, maxRelError, transpose, type Mat } from '../reference/linalg';
import { geluGrad64, quickGeluGrad64 } from '../reference/elementwise';

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

/** Bitwise equality of two f32 results. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A seeded f32-exact matrix on the GPU and its float64 copy. */
function operand(rows: number, cols: number, seed: number): { t: Tensor; m: Mat } {
  const data = f32Data(rows * cols, seed);
  return { t: Tensor.from(gpu().ctx, [rows, cols], Float32Array.from(data)), m: mat(rows, cols, data) };
}

// Two tilings (64×64 and 16×16 tiles), for the epilogues (whose code
// runs after the k loop, so the loop's tiling matters less than for the split operands' loads).
const EPILOGUE_TILINGS = [TILING_CANDIDATES[0], TILING_CANDIDATES[5]];

describe('GEMM epilogues against a float64 reference', () => {
  it('residual: C = R + x·Wᵀ + bias, 37x19·19x70, the same bits as add(R, y) in two tilings', async () => {
    const { ctx } = gpu();
    const [M, N, K] = [37, 70, 19];
    const x = operand(M, K, 900);
    const w = operand(N, K, 901);
    const bias = operand(1, N, 902);
    const r = operand(M, N, 903);
    const P = matmul64(x.m, transpose(w.m));
    const want = P.data.map((v, i) => r.m.data[i] + v + bias.m.data[i % N]);
    const plain = matmul(x.t, w.t, { transB: true, bias: bias.t });
    const unfused = add(r.t, plain);
    const ref = await unfused.read();
    for (const tiling of EPILOGUE_TILINGS) {
      const y = matmul(x.t, w.t, { transB: true, bias: bias.t, residual: r.t, tiling });
      const got = await y.read();
      expect(maxRelError(got, want)).toBeLessThan(f32Tolerance(K));
      expect(sameBits(got, ref), `${tilingId(tiling)}: fused residual differs from add(R, y)`).toBe(true);
      y.release();
    }
    for (const t of [x.t, w.t, bias.t, r.t, plain, unfused]) t.release();
  });

  for (const act of ['gelu', 'quick_gelu'] as const) {
    it(`${act} with the pre-activation saved: both outputs match, the activation bit for bit with elementwise's`, async () => {
      const { ctx } = gpu();
      const [M, N, K] = [33, 45, 27];
      const x = operand(M, K, 910);
      const w = operand(N, K, 911);
      const bias = operand(1, N, 912);
      const P = matmul64(x.m, transpose(w.m));
      const wantPre = P.data.map((v, i) => v + bias.m.data[i % N]);
      const wantAct = wantPre.map((v) => activation64(v, act));
      for (const tiling of EPILOGUE_TILINGS) {
        const pre = Tensor.empty(ctx, [M, N]);
        const y = matmul(x.t, w.t, { transB: true, bias: bias.t, activation: act, preOut: pre, tiling });
        const gotPre = await pre.read();
        const gotAct = await y.read();
        expect(maxRelError(gotPre, wantPre)).toBeLessThan(f32Tolerance(K));
        expect(maxRelError(gotAct, wantAct)).toBeLessThan(f32Tolerance(K));
        // The separate launch on the saved pre-activation gives the same bits.
        const separate = activationOp(pre, act);
        expect(sameBits(gotAct, await separate.read()), `${tilingId(tiling)}: fused ${act} differs from elementwise`).toBe(true);
        for (const t of [pre, y, separate]) t.release();
      }
      for (const t of [x.t, w.t, bias.t]) t.release();
    });

    it(`${act} backward folded in: C = (dY·W + C)·${act}'(pre), 29x41·41x53 with beta = 1`, async () => {
      const { ctx } = gpu();
      const [M, N, K] = [29, 53, 41];
      const dy = operand(M, K, 920);
      const w = operand(K, N, 921);
      const c0 = f32Data(M * N, 922);
      const pre = operand(M, N, 923);
      const grad = act === 'gelu' ? geluGrad64 : quickGeluGrad64;
      const P = matmul64(dy.m, w.m);
      const want = P.data.map((v, i) => (v + c0[i]) * grad(pre.m.data[i]));
      for (const tiling of EPILOGUE_TILINGS) {
        const out = Tensor.from(ctx, [M, N], Float32Array.from(c0));
        matmul(dy.t, w.t, { beta: 1, out, activationGrad: { activation: act, pre: pre.t }, tiling });
        const got = await out.read();
        expect(maxRelError(got, want)).toBeLessThan(f32Tolerance(K));
        // Unfused: the GEMM, then the element-wise backward in place.
        const dAct = Tensor.from(ctx, [M, N], Float32Array.from(c0));
        matmul(dy.t, w.t, { beta: 1, out: dAct, tiling });
        const dPre = activationBackward(pre.t, dAct, act);
        expect(sameBits(got, await dPre.read()), `${tilingId(tiling)}: folded ${act}' differs from the separate launch`).toBe(true);
        for (const t of [out, dAct, dPre]) t.release();
      }
      for (const t of [dy.t, w.t, pre.t]) t.release();
    });
  }

  it('refuses a residual of the wrong size, naming it', () => {
    const { ctx } = gpu();
    const a = Tensor.zeros(ctx, [3, 4]);
    const b = Tensor.zeros(ctx, [4, 5]);
    const r = Tensor.zeros(ctx, [3, 4]);
    expect(() => matmul(a, b, { residual: r })).toThrow(/residual has shape \[3,4\].*15/);
    for (const t of [a, b, r]) t.release();
  });
});

describe('split GEMMs (Q, K and V in one launch) against a float64 reference, every tiling', () => {
  it('three outputs from three weights with three biases: 37x19 · (3 × 23x19)ᵀ, the same bits as three GEMMs', async () => {
    const { ctx } = gpu();
    expect(canSplitOutputs(ctx, true), 'this device binds fewer than 10 storage buffers per stage').toBe(true);
    const [M, S, K] = [37, 23, 19];
    const x = operand(M, K, 930);
    const ws = [0, 1, 2].map((i) => operand(S, K, 931 + i));
    const bs = [0, 1, 2].map((i) => operand(1, S, 935 + i));
    const wants = ws.map((w, j) => matmul64(x.m, transpose(w.m)).data.map((v, i) => v + bs[j].m.data[i % S]));
    const separate: Float32Array[] = [];
    for (let j = 0; j < 3; j++) {
      const y = matmul(x.t, ws[j].t, { transB: true, bias: bs[j].t });
      separate.push(await y.read());
      y.release();
    }
    for (const tiling of TILING_CANDIDATES) {
      const outs = matmulSplitOutputs(x.t, [ws[0].t, ws[1].t, ws[2].t], { transB: true, bias: [bs[0].t, bs[1].t, bs[2].t], tiling });
      for (let j = 0; j < 3; j++) {
        expect(outs[j].shape).toEqual([M, S]);
        const got = await outs[j].read();
        expect(maxRelError(got, wants[j])).toBeLessThan(f32Tolerance(K));
        expect(sameBits(got, separate[j]), `${tilingId(tiling)}: part ${j} differs from its own GEMM`).toBe(true);
        outs[j].release();
      }
    }
    for (const t of [x, ...ws, ...bs]) t.t.release();
  });

  it('three-part depth: dQ·Wq + dK·Wk + dV·Wv, 37x(3·23) · (3·23)x19, every tiling the same bits', async () => {
    const [M, S, N] = [37, 23, 19];
    const as = [0, 1, 2].map((i) => operand(M, S, 940 + i));
    const bs = [0, 1, 2].map((i) => operand(S, N, 944 + i));
    const want = new Float64Array(M * N);
    for (let j = 0; j < 3; j++) matmul64(as[j].m, bs[j].m).data.forEach((v, i) => (want[i] += v));
    let first: Float32Array | undefined;
    for (const tiling of TILING_CANDIDATES) {
      const y = matmulSplitDepth([as[0].t, as[1].t, as[2].t], [bs[0].t, bs[1].t, bs[2].t], { tiling });
      expect(y.shape).toEqual([M, N]);
      const got = await y.read();
      expect(maxRelError(got, want)).toBeLessThan(f32Tolerance(3 * S));
      if (!first) first = got;
      else expect(sameBits(got, first), `${tilingId(tiling)} differs from ${tilingId(TILING_CANDIDATES[0])}`).toBe(true);
      y.release();
    }
    for (const t of [...as, ...bs]) t.t.release();
  });

  it('three-part depth with transposed parts: Aᵢ stored S×M, Bᵢ stored N×S', async () => {
    const [M, S, N] = [21, 9, 30];
    const as = [0, 1, 2].map((i) => operand(S, M, 950 + i));
    const bs = [0, 1, 2].map((i) => operand(N, S, 954 + i));
    const want = new Float64Array(M * N);
    for (let j = 0; j < 3; j++) matmul64(transpose(as[j].m), transpose(bs[j].m)).data.forEach((v, i) => (want[i] += v));
    const y = matmulSplitDepth([as[0].t, as[1].t, as[2].t], [bs[0].t, bs[1].t, bs[2].t], { transA: true, transB: true });
    expect(maxRelError(await y.read(), want)).toBeLessThan(f32Tolerance(3 * S));
    for (const t of [...as, ...bs, { t: y }]) t.t.release();
  });

  it('refuses parts of different shapes, naming them', () => {
    const { ctx } = gpu();
    const x = Tensor.zeros(ctx, [4, 5]);
    const w = [Tensor.zeros(ctx, [6, 5]), Tensor.zeros(ctx, [6, 5]), Tensor.zeros(ctx, [7, 5])] as const;
    expect(() => matmulSplitOutputs(x, w, { transB: true })).toThrow(/\[6,5\], \[6,5\], \[7,5\]/);
    for (const t of [x, ...w]) t.release();
  });
});
