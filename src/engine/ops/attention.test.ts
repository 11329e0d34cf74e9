import { describe, expect, it } from 'vitest';
import { useGpu, testData, f32Tolerance } from '../../testing/gpu';
import { cotangent, dot64, f32Round, numericGradient, relErr } from '../../testing/gradcheck';
import { Tensor } from '../tensor';
import { maxRelError } from '../reference/linalg';
import { attention64, attentionBackward64, type AttentionDims } from '../reference/attention';
import { attention, attentionBackward, attentionTile } from './attention';

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

describe('fused attention on the GPU against float64', () => {
  /** Forward and backward of one case; returns the GPU results (read back) for bit comparisons. */
  async function check(dm: AttentionDims, seed: number) {
    const { batch: B, tokens: T, heads: H, headDim: d } = dm;
    const data = qkv(dm, seed);
    const ref = attention64(data.q, data.k, data.v, dm);
    const refG = attentionBackward64(data.dOut, data.q, data.k, data.v, dm);
    const shape = [B, T, H * d];
    const [q, k, v, dOut] = [data.q, data.k, data.v, data.dOut].map((a) => upload(shape, a));
    const { out, saved } = attention(q, k, v, H, { scale: dm.scale, causal: dm.causal });
    // Scores are d-term f32 dot products of size up to 4·d·scale; their absolute error moves
    // each probability by the same relative amount, and the output sums T products: so
    // f32Tolerance(d)·max|score| + f32Tolerance(T), with max|score| ≤ 4√d here.
    const tol = f32Tolerance(d) * 4 * Math.sqrt(d) + f32Tolerance(T);
    const o = await out.read();
    expect(maxRelError(o, ref.out)).toBeLessThan(tol);
    // The saved logsumexp is log Σ_j exp(score_ij) of the float64 scores.
    const lse = await saved!.lse.read();
    expect(saved!.lse.shape).toEqual([B * H, T]);
    expect(maxRelError(lse, logsumexp64(data.q, data.k, dm))).toBeLessThan(tol);
    const g = attentionBackward(dOut, saved!);
    // One more T-term (dP, dv, dq, dk) or d-term product on top of the forward's error.
    const gTol = 2 * tol + f32Tolerance(T);
    const got = { out: o, dq: await g.dq.read(), dk: await g.dk.read(), dv: await g.dv.read() };
    expect(maxRelError(got.dq, refG.dq)).toBeLessThan(gTol);
    expect(maxRelError(got.dk, refG.dk)).toBeLessThan(gTol);
    expect(maxRelError(got.dv, refG.dv)).toBeLessThan(gTol);
    for (const t of [q, k, v, dOut, out, g.dq, g.dk, g.dv]) t.release();
    return { got, data, ref };
  }

  // Tiles: 64 query (or key) rows per workgroup; the streamed side attentionTile(d) rows at a time.
  const cases: AttentionDims[] = [
    { batch: 2, tokens: 7, heads: 3, headDim: 4 },
    // ViT-B/16 at 224²: 196 patches + CLS, d = 64 (tile 30): neither a multiple of 64 nor of 30.
    { batch: 1, tokens: 197, heads: 2, headDim: 64 },
    // CLIP B/32: 49 patches + CLS, d = 64; and an odd head size with an explicit scale.
    { batch: 2, tokens: 50, heads: 1, headDim: 64 },
    { batch: 2, tokens: 70, heads: 2, headDim: 3, scale: 0.3 },
    { batch: 1, tokens: 65, heads: 2, headDim: 32 },
  ];
  for (const dm of cases) {
    it(`B=${dm.batch} T=${dm.tokens} H=${dm.heads} d=${dm.headDim}${dm.scale ? ` scale ${dm.scale}` : ''}: forward, logsumexp and dq, dk, dv`, async () => {
      await check(dm, dm.tokens + dm.heads);
    });
  }

  it('the tile sizes fit in 16 KiB of workgroup memory', () => {
    expect(attentionTile(64)).toBe(30);
    for (const d of [1, 3, 32, 64, 80, 128, 256]) {
      const t = attentionTile(d);
      expect(t).toBeGreaterThan(0);
      expect((2 * t * d + 2 * t) * 4).toBeLessThanOrEqual(16384);
    }
  });

  it('causal: token t attends to tokens 0…t only; forward and dq, dk, dv match float64', async () => {
    // 9: one tile; 77: CLIP's text context at its d = 64; 130: three 64-row workgroups, so the
    // causal loop bounds (keys up to the tile's last query, queries from the tile's first key) are crossed.
    for (const dm of [
      { batch: 2, tokens: 9, heads: 2, headDim: 4, causal: true },
      { batch: 1, tokens: 77, heads: 1, headDim: 64, causal: true },
      { batch: 1, tokens: 130, heads: 2, headDim: 8, causal: true },
    ]) {
      const { got, data, ref } = await check(dm, dm.tokens + 11);
      const D = dm.heads * dm.headDim;
      // The first token sees only itself: its output is its own value row.
      expect(maxRelError(got.out.slice(0, D), data.v.slice(0, D))).toBeLessThan(1e-6);
      // The last token's key is seen by the last query only: dk and dv there come from it alone.
      const last = (dm.batch * dm.tokens - 1) * D;
      const dvLast = got.dv.slice(last, last + D);
      expect(maxRelError(dvLast, data.dOut.slice(last, last + D).map((x, i) => x * lastProb(ref.probs, dm, i)))).toBeLessThan(1e-5);
      // Unmasked attention on the same inputs differs: the mask really changes the result.
      const plain = attention64(data.q, data.k, data.v, { ...dm, causal: false });
      expect(maxRelError(plain.out, ref.out)).toBeGreaterThan(1e-2);
    }
  });

  it('two runs give the same bits (fixed summation order, no atomics)', async () => {
    const dm = { batch: 1, tokens: 197, heads: 2, headDim: 64 };
    const a = await check(dm, 3);
    const b = await check(dm, 3);
    for (const key of ['out', 'dq', 'dk', 'dv'] as const) {
      expect(Buffer.from(b.got[key].buffer).equals(Buffer.from(a.got[key].buffer))).toBe(true);
    }
  });

  it('keeps only the logsumexp for the backward, and nothing without saving', async () => {
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
    const kept = attention(q, k, v, 3);
    // The saved state borrows q, k, v and the output; it owns B·H·T floats of logsumexp.
    expect(kept.saved!.q).toBe(q);
    expect(kept.saved!.out.buffer).toBe(kept.out.buffer);
    expect(kept.saved!.lse.size).toBe(2 * 3 * 7);
    for (const t of [q, k, v, out, kept.out, kept.saved!.lse]) t.release();
  });

  it('names the problem when shapes do not fit', () => {
    const x = upload([1, 2, 12], new Float32Array(24));
    const y = upload([1, 3, 12], new Float32Array(36));
    expect(() => attention(x, x, x, 5)).toThrow(/hidden size 12 is not divisible into 5 heads/);
    expect(() => attention(x, y, x, 3)).toThrow(/attention: k has shape \[1,3,12\], q has \[1,2,12\]/);
    const saved = attention(x, x, x, 3).saved!;
    expect(() => attentionBackward(y, saved)).toThrow(/attention_backward: dOut has shape \[1,3,12\], needs \(1, 2, 12\)/);
    for (const t of [x, y, saved.out, saved.lse]) t.release();
  });
});

/** log Σ_j exp(scale·q_i·k_j) per (batch, head, query), (B·H, T), masked like attention64. */
function logsumexp64(q: ArrayLike<number>, k: ArrayLike<number>, dm: AttentionDims): Float64Array {
  const { batch: B, tokens: T, heads: H, headDim: d } = dm;
  const scale = dm.scale ?? 1 / Math.sqrt(d);
  const D = H * d;
  const out = new Float64Array(B * H * T);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < T; i++) {
        const s: number[] = [];
        for (let j = 0; j < (dm.causal ? i + 1 : T); j++) {
          let dot = 0;
          for (let e = 0; e < d; e++) dot += q[(b * T + i) * D + h * d + e] * k[(b * T + j) * D + h * d + e];
          s.push(dot * scale);
        }
        const m = Math.max(...s);
        out[(b * H + h) * T + i] = m + Math.log(s.reduce((z, x) => z + Math.exp(x - m), 0));
      }
  return out;
}

/** The last query's probability on the last key, for the head of hidden column `col`, last batch. */
function lastProb(probs: Float64Array, dm: AttentionDims, col: number): number {
  const { batch: B, tokens: T, heads: H, headDim: d } = dm;
  const h = Math.floor(col / d);
  return probs[(((B - 1) * H + h) * T + T - 1) * T + T - 1];
}
