/**
 * `npm run bench -- --only attention`: the fused attention forward + backward at ViT-B/16 shapes
 * (B = 16 images, H = 12 heads, T = 197 tokens, d = 64; --quick: a tiny shape), wall time per
 * pass and the pool's bytes. Opt-in, like the step suite.
 *
 * Memory is counted in pool bytes over the inputs (q, k, v, dO), which both paths take as given:
 * - saved: held from the end of the forward to the backward, besides the output (which the next
 *   layer needs either way);
 * - peak: the most bytes in use at once during forward + backward (output and gradients included).
 * The unfused path (split heads, scores GEMM, row softmax, context GEMM, merge heads; backward on
 * the kept B·H·T² probabilities) was removed when the fused kernels replaced it, so its figures
 * are computed from the tensors it allocated, with N the pool bytes of a (B, T, H·d) tensor and P
 * those of the B·H·T² probabilities:
 * saved 3N + P (split q, k, v and the probabilities); peak 7N + 2P, reached in the backward
 * while the saved state, the output, dP→dS and the split dv, dq and dk are all held.
 */
import type { GpuContext } from '../src/gpu/context';
import { Tensor } from '../src/engine/tensor';
import { BufferPool } from '../src/gpu/bufferPool';
import { attention, attentionBackward } from '../src/engine/ops/attention';
import { now } from './timing';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface AttentionBenchShape {
  batch: number;
  heads: number;
  tokens: number;
  headDim: number;
}

export interface AttentionPathRow {
  path: 'fused' | 'unfused';
  /** measured here, or computed from the removed path's allocations. */
  source: 'measured' | 'analytic';
  launches_forward: number;
  launches_backward: number;
  ms_forward?: number;
  ms_backward?: number;
  saved_bytes: number;
  peak_bytes: number;
}

export interface AttentionBenchResult {
  shape: AttentionBenchShape;
  rows: AttentionPathRow[];
}

export const VIT_B16_ATTENTION: AttentionBenchShape = { batch: 16, heads: 12, tokens: 197, headDim: 64 };

/**
 * The removed unfused path's pool bytes (see the file comment), each tensor rounded up to its pool
 * bucket as the pool does. Checked once against the old code at ViT-B/16, batch 16: it measured
 * 62.91 MB saved and 136.31 MB peak, the figures this gives.
 */
export function unfusedBytes(s: AttentionBenchShape): { saved: number; peak: number } {
  const N = BufferPool.bucket(4 * s.batch * s.tokens * s.heads * s.headDim);
  const P = BufferPool.bucket(4 * s.batch * s.heads * s.tokens * s.tokens);
  return { saved: 3 * N + P, peak: 7 * N + 2 * P };
}

export async function benchAttention(ctx: GpuContext, quick: boolean, progress: (line: string) => void): Promise<AttentionBenchResult> {
  const shape: AttentionBenchShape = quick ? { batch: 1, heads: 2, tokens: 20, headDim: 8 } : VIT_B16_ATTENTION;
  const { batch: B, heads: H, tokens: T, headDim: d } = shape;
  const n = B * T * H * d;
  const data = (seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed));
  const [q, k, v, dO] = [0, 1, 2, 3].map((s) => Tensor.from(ctx, [B, T, H * d], data(s), 'bench_attention'));
  const pool = ctx.pool;
  // Track the in-use high-water mark: the pool itself keeps only the allocated one.
  let peak = 0;
  const acquire = pool.acquire.bind(pool);
  pool.acquire = (bytes, usage, label) => {
    const b = acquire(bytes, usage, label);
    peak = Math.max(peak, pool.inUseBytes);
    return b;
  };
  let saved = 0;
  const launches = { forward: 0, backward: 0 };
  const launch = ctx.launch;
  let counter = 0;
  ctx.launch = function (kl) {
    counter++;
    return launch.call(this, kl);
  };
  // One discarded pass (pipeline compilation), then the timed ones: seconds each on SwiftShader.
  const timed = quick ? 1 : 2;
  const fwd: number[] = [];
  const bwd: number[] = [];
  try {
    const base = pool.inUseBytes;
    peak = base;
    for (let i = 0; i <= timed; i++) {
      counter = 0;
      const t0 = now();
      const att = attention(q, k, v, H);
      await ctx.flush();
      const t1 = now();
      launches.forward = counter;
      saved = pool.inUseBytes - base - att.out.buffer.size;
      counter = 0;
      const g = attentionBackward(dO, att.saved!);
      await ctx.flush();
      const t2 = now();
      launches.backward = counter;
      if (i > 0) {
        fwd.push(t1 - t0);
        bwd.push(t2 - t1);
      }
      for (const t of [att.out, g.dq, g.dk, g.dv]) t.release();
    }
    const fused: AttentionPathRow = {
      path: 'fused',
      source: 'measured',
      launches_forward: launches.forward,
      launches_backward: launches.backward,
      ms_forward: median(fwd),
      ms_backward: median(bwd),
      saved_bytes: saved,
      peak_bytes: peak - base,
    };
    progress(`attention fused B=${B} H=${H} T=${T} d=${d}: ${(median(fwd) + median(bwd)).toFixed(0)} ms forward+backward (median of ${timed})`);
    const old = unfusedBytes(shape);
    const unfused: AttentionPathRow = { path: 'unfused', source: 'analytic', launches_forward: 7, launches_backward: 9, saved_bytes: old.saved, peak_bytes: old.peak };
    return { shape, rows: [fused, unfused] };
  } finally {
    delete (pool as { acquire?: unknown }).acquire;
    delete (ctx as { launch?: unknown }).launch;
    for (const t of [q, k, v, dO]) t.release();
  }
}

export function formatAttention(r: AttentionBenchResult): string {
  const { batch: B, heads: H, tokens: T, headDim: d } = r.shape;
  const mb = (x: number) => (x / 1e6).toFixed(2);
  const ms = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(0));
  const lines = [
    `attention forward + backward, B=${B} H=${H} T=${T} d=${d} (bytes over the inputs q, k, v, dO):`,
    `  path     source    launches fwd/bwd  ms fwd  ms bwd  saved MB  peak MB`,
    ...r.rows.map(
      (x) =>
        `  ${x.path.padEnd(8)} ${x.source.padEnd(9)} ${`${x.launches_forward}/${x.launches_backward}`.padStart(16)}  ${ms(x.ms_forward).padStart(6)}  ${ms(x.ms_backward).padStart(6)}  ${mb(x.saved_bytes).padStart(8)}  ${mb(x.peak_bytes).padStart(7)}`,
    ),
  ];
  return lines.join('\n');
}
