import { describe, expect, it } from 'vitest';
import { useGpu, testData, f32Tolerance, withReductionPath } from '../../testing/gpu';
import { cotangent, dot64, f32Round, numericGradient, relErr } from '../../testing/gradcheck';
import { Tensor } from '../tensor';
import { maxRelError } from '../reference/linalg';
import { attention64, attentionBackward64, type AttentionDims } from '../reference/attention';
import { attention, attentionBackward, mergeHeads, softmaxRowsBackwardInPlace, softmaxRowsInPlace, splitHeads } from './attention';

const gpu = useGpu();

function upload(shape: number[], data: ArrayLike<number>): Tensor {
  return Tensor.from(gpu().ctx, shape, Float32Array.from(data));
}

function qkv(dm: AttentionDims, seed: number) {
  const n = dm.batch * dm.tokens * dm.heads * dm.headDim;
  // ±2 so that scores spread over a few units and the softmax is far from uniform.
  return {
    q: f32Round(testData(n, seed, -2, 2)),
    k: f32Round(testData(n, seed + 1, -2, 2)),
    v: f32Round(testData(n, seed + 2)),
    dOut: f32Round(testData(n, seed + 3)),
  };
}

describe('attention float64 reference', () => {
  it('causal backward matches central finite differences', () => {
    const dm = { batch: 1, tokens: 4, heads: 2, headDim: 2, causal: true };
    const { q, k, v } = qkv(dm, 9);
    const cot = cotangent(q.length, 10);
    const g = attentionBackward64(cot, q, k, v, dm);
    const loss = (qq: Float64Array, kk: Float64Array, vv: Float64Array) => dot64(attention64(qq, kk, vv, dm).out, cot);
    expect(relErr(g.dq, numericGradient((x) => loss(x, k, v), q))).toBeLessThan(1e-7);
    expect(relErr(g.dk, numericGradient((x) => loss(q, x, v), k))).toBeLessThan(1e-7);
    expect(relErr(g.dv, numericGradient((x) => loss(q, k, x), v))).toBeLessThan(1e-7);
  });

  it('backward matches central finite differences for q, k and v', () => {
    const dm = { batch: 2, tokens: 3, heads: 2, headDim: 2 };
    const { q, k, v } = qkv(dm, 5);
    const cot = cotangent(q.length, 6);
    const g = attentionBackward64(cot, q, k, v, dm);
    const loss = (qq: Float64Array, kk: Float64Array, vv: Float64Array) => dot64(attention64(qq, kk, vv, dm).out, cot);
    expect(relErr(g.dq, numericGradient((x) => loss(x, k, v), q))).toBeLessThan(1e-7);
    expect(relErr(g.dk, numericGradient((x) => loss(q, x, v), k))).toBeLessThan(1e-7);
    expect(relErr(g.dv, numericGradient((x) => loss(q, k, x), v))).toBeLessThan(1e-7);
  });

  it('is softmax(q·kᵀ/√d)·v on one head written out by hand', () => {
    // T = 2, d = 1: scores q_i·k_j/1, so p_i = softmax(q_i·[k_0, k_1]).
    const r = attention64([1, 2], [0.5, -1], [3, 7], { batch: 1, tokens: 2, heads: 1, headDim: 1 });
    const p0 = 1 / (1 + Math.exp(-1 - 0.5));
    const p1 = 1 / (1 + Math.exp(-2 - 1));
    expect(r.out[0]).toBeCloseTo(p0 * 3 + (1 - p0) * 7, 12);
    expect(r.out[1]).toBeCloseTo(p1 * 3 + (1 - p1) * 7, 12);
  });
});

describe('attention on the GPU against float64', () => {
  it('splitHeads / mergeHeads move every value to the right place and back', async () => {
    const [B, T, H, d] = [2, 7, 3, 4];
    const x64 = Float64Array.from({ length: B * T * H * d }, (_, i) => i);
    const x = upload([B, T, H * d], x64);
    const s = splitHeads(x, H);
    expect(s.shape).toEqual([B * H, T, d]);
    const got = await s.read();
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let t = 0; t < T; t++)
          for (let e = 0; e < d; e++) expect(got[((b * H + h) * T + t) * d + e]).toBe(((b * T + t) * H + h) * d + e);
    const m = mergeHeads(s, B);
    expect(Array.from(await m.read())).toEqual(Array.from(x64));
    expect(() => splitHeads(x, 5)).toThrow(/12 is not divisible into 5 heads/);
    for (const t of [x, s, m]) t.release();
  });

  it('row softmax is stable for large logits', async () => {
    const x = upload([2, 3], [1000, 1001, 1002, -5, -5, -5]);
    softmaxRowsInPlace(x);
    const z = 1 + Math.exp(1) + Math.exp(2);
    expect(maxRelError(await x.read(), [1 / z, Math.E / z, Math.exp(2) / z, 1 / 3, 1 / 3, 1 / 3])).toBeLessThan(1e-6);
    x.release();
  });

  it('row softmax and its backward on rows over 256 wide (the 64-lane reduction) match float64', async () => {
    const rows = 3;
    const cols = 300;
    const data = Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * 4);
    const g = Array.from({ length: rows * cols }, (_, i) => Math.cos(i * 0.11));
    const p = upload([rows, cols], data);
    softmaxRowsInPlace(p);
    const want = new Float64Array(rows * cols);
    const wantD = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const row = data.slice(r * cols, (r + 1) * cols).map((v) => Math.fround(v));
      const m = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
      let dot = 0;
      for (let j = 0; j < cols; j++) {
        want[r * cols + j] = Math.exp(row[j] - m) / z;
        dot += want[r * cols + j] * Math.fround(g[r * cols + j]);
      }
      for (let j = 0; j < cols; j++) wantD[r * cols + j] = want[r * cols + j] * (Math.fround(g[r * cols + j]) - dot);
    }
    expect(maxRelError(await p.read(), want)).toBeLessThan(1e-5);
    const dp = upload([rows, cols], g);
    softmaxRowsBackwardInPlace(p, dp);
    // A 300-term f32 dot product (the row sum) dominates the error: f32Tolerance(300).
    expect(maxRelError(await dp.read(), wantD)).toBeLessThan(f32Tolerance(cols) + 1e-5);
    p.release();
    dp.release();
  });

  const cases: AttentionDims[] = [
    { batch: 2, tokens: 7, heads: 3, headDim: 4 },
    // ViT-B/16 sequence length at 224²: 196 patches + CLS, not a multiple of any tile.
    { batch: 1, tokens: 197, heads: 4, headDim: 16 },
  ];
  for (const dm of cases) {
    it(`B=${dm.batch} T=${dm.tokens} H=${dm.heads} d=${dm.headDim}: forward and dq, dk, dv`, async () => {
      const { batch: B, tokens: T, heads: H, headDim: d } = dm;
      const data = qkv(dm, T + H);
      const ref = attention64(data.q, data.k, data.v, dm);
      const refG = attentionBackward64(data.dOut, data.q, data.k, data.v, dm);
      const shape = [B, T, H * d];
      const [q, k, v, dOut] = [data.q, data.k, data.v, data.dOut].map((a) => upload(shape, a));
      const { out, saved } = attention(q, k, v, H);
      // Scores are d-term f32 dot products of size up to 4·d·scale; their absolute error moves
      // each probability by the same relative amount, and the output sums T products: so
      // f32Tolerance(d)·max|score| + f32Tolerance(T), with max|score| ≤ 4√d here.
      const tol = f32Tolerance(d) * 4 * Math.sqrt(d) + f32Tolerance(T);
      expect(maxRelError(await out.read(), ref.out)).toBeLessThan(tol);
      expect(maxRelError(await saved!.probs.read(), ref.probs)).toBeLessThan(tol);
      const g = attentionBackward(dOut, saved!);
      // One more T-term (dP, dv, dq, dk) or d-term product on top of the forward's error.
      const gTol = 2 * tol + f32Tolerance(T);
      expect(maxRelError(await g.dq.read(), refG.dq)).toBeLessThan(gTol);
      expect(maxRelError(await g.dk.read(), refG.dk)).toBeLessThan(gTol);
      expect(maxRelError(await g.dv.read(), refG.dv)).toBeLessThan(gTol);
      for (const t of [q, k, v, dOut, out, g.dq, g.dk, g.dv]) t.release();
    });
  }

  it('causal: token t attends to tokens 0…t only; forward and dq, dk, dv match float64', async () => {
    // T = 9 spans both softmax variants' short-row path; 77 is CLIP's text context, not a tile multiple.
    for (const dm of [
      { batch: 2, tokens: 9, heads: 2, headDim: 4, causal: true },
      { batch: 1, tokens: 77, heads: 2, headDim: 8, causal: true },
    ]) {
      const data = qkv(dm, dm.tokens + 11);
      const ref = attention64(data.q, data.k, data.v, dm);
      const refG = attentionBackward64(data.dOut, data.q, data.k, data.v, dm);
      const shape = [dm.batch, dm.tokens, dm.heads * dm.headDim];
      const [q, k, v, dOut] = [data.q, data.k, data.v, data.dOut].map((a) => upload(shape, a));
      const { out, saved } = attention(q, k, v, dm.heads, { causal: true });
      const probs = await saved!.probs.read();
      // Above the diagonal every probability is exactly zero.
      for (let r = 0; r < probs.length / dm.tokens; r++) {
        for (let j = (r % dm.tokens) + 1; j < dm.tokens; j++) expect(probs[r * dm.tokens + j]).toBe(0);
      }
      const tol = f32Tolerance(dm.headDim) * 4 * Math.sqrt(dm.headDim) + f32Tolerance(dm.tokens);
      expect(maxRelError(await out.read(), ref.out)).toBeLessThan(tol);
      // The first token sees only itself: its output is its own value row.
      const first = (await out.read()).slice(0, shape[2]);
      expect(maxRelError(first, data.v.slice(0, shape[2]))).toBeLessThan(1e-6);
      const g = attentionBackward(dOut, saved!);
      const gTol = 2 * tol + f32Tolerance(dm.tokens);
      expect(maxRelError(await g.dq.read(), refG.dq)).toBeLessThan(gTol);
      expect(maxRelError(await g.dk.read(), refG.dk)).toBeLessThan(gTol);
      expect(maxRelError(await g.dv.read(), refG.dv)).toBeLessThan(gTol);
      // Unmasked attention on the same inputs differs: the mask really changes the result.
      const plain = attention64(data.q, data.k, data.v, { ...dm, causal: false });
      expect(maxRelError(plain.out, ref.out)).toBeGreaterThan(1e-2);
      for (const t of [q, k, v, dOut, out, g.dq, g.dk, g.dv]) t.release();
    }
  });

  it('without saving (evaluation) gives the same output and frees the temporaries', async () => {
    const { ctx } = gpu();
    const dm = { batch: 2, tokens: 7, heads: 3, headDim: 4 };
    const data = qkv(dm, 77);
    const shape = [2, 7, 12];
    const [q, k, v] = [data.q, data.k, data.v].map((a) => upload(shape, a));
    const before = ctx.pool.inUseBytes;
    const { out, saved } = attention(q, k, v, 3, { save: false });
    expect(saved).toBeUndefined();
    // Only the output is still held.
    expect(ctx.pool.inUseBytes - before).toBeLessThanOrEqual(1024);
    expect(maxRelError(await out.read(), attention64(data.q, data.k, data.v, dm).out)).toBeLessThan(1e-5);
    for (const t of [q, k, v, out]) t.release();
  });
});

/** Row softmax (optionally causal over (T, T) blocks) and its backward in float64, from f32 inputs. */
function softmax64(x: ArrayLike<number>, g: ArrayLike<number>, rows: number, cols: number, causal: boolean) {
  const p = new Float64Array(rows * cols);
  const d = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const last = causal ? r % cols : cols - 1;
    let m = -Infinity;
    for (let j = 0; j <= last; j++) m = Math.max(m, x[r * cols + j]);
    let z = 0;
    for (let j = 0; j <= last; j++) z += Math.exp(x[r * cols + j] - m);
    let dot = 0;
    for (let j = 0; j <= last; j++) {
      p[r * cols + j] = Math.exp(x[r * cols + j] - m) / z;
      dot += p[r * cols + j] * g[r * cols + j];
    }
    for (let j = 0; j < cols; j++) d[r * cols + j] = p[r * cols + j] * (g[r * cols + j] - dot);
  }
  return { p, d };
}

describe('row softmax: subgroup and plain reductions', () => {
  // 7 and 33 columns take the one-invocation-per-row path (same code on both); 257 columns the
  // 64-lane reduction, where the subgroup variant differs; causal 257×257 masks part of each row.
  const shapes = [
    { rows: 3, cols: 7, causal: false },
    { rows: 5, cols: 33, causal: false },
    { rows: 3, cols: 257, causal: false },
    { rows: 257, cols: 257, causal: true },
  ];
  for (const { rows, cols, causal } of shapes) {
    it(`${rows}x${cols}${causal ? ' causal' : ''}: forward and backward agree with float64 on both paths, and with each other`, async () => {
      const { ctx } = gpu();
      // Rows shifted to ±1000 (alternating): without the true row maximum exp would overflow or vanish.
      const x = f32Round(testData(rows * cols, rows + cols, -4, 4).map((v, i) => v + (Math.floor(i / cols) % 2 ? -1000 : 1000)));
      const g = f32Round(testData(rows * cols, rows + cols + 1));
      const ref = softmax64(x, g, rows, cols, causal);
      const run = (subgroups: boolean) =>
        withReductionPath(ctx, subgroups, async () => {
          const p = upload([rows, cols], x);
          softmaxRowsInPlace(p, { causal });
          const dp = upload([rows, cols], g);
          softmaxRowsBackwardInPlace(p, dp);
          const out = { p: await p.read(), d: await dp.read() };
          p.release();
          dp.release();
          return out;
        });
      const plain = await run(false);
      const sub = await run(true);
      for (const r of [plain, sub]) {
        expect(maxRelError(r.p, ref.p)).toBeLessThan(f32Tolerance(cols) + 1e-5);
        expect(maxRelError(r.d, ref.d)).toBeLessThan(2 * f32Tolerance(cols) + 1e-5);
      }
      // Same max (exact), sums only reordered: a few ulps.
      expect(maxRelError(sub.p, plain.p)).toBeLessThan(cols > 256 ? 2e-6 : 1e-12);
      expect(maxRelError(sub.d, plain.d)).toBeLessThan(cols > 256 ? 2e-6 : 1e-12);
    });
  }
});
