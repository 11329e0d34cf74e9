/**
 * Multi-head self-attention core, softmax(q·kᵀ·scale)·v per head, and its backward, for HF ViT
 * and CLIP vision layers. q, k and v come straight from the query / key / value linear layers as
 * (B, T, H·d) with head h in hidden columns h·d … h·d + d − 1; the output is in the same layout,
 * ready for the output projection. Vision transformers attend over every token; CLIP's text
 * tower passes `causal` so token t sees only tokens 0…t.
 *
 * Fused in the style of FlashAttention (shaders/attention.wgsl): the forward is one launch with an
 * online softmax over key tiles and keeps only the per-row logsumexp (B·H·T floats); the backward
 * is two launches (dK/dV per key tile, dQ per query tile) that recompute the probabilities from
 * q, k and the logsumexp. The B·H·T² probabilities are never stored: at ViT-B/16, batch 16 that
 * is 29.8 MB per layer that the backward no longer holds (bench/attention.ts).
 */
import attentionWgsl from '../../../shaders/attention.wgsl';
import type { GpuContext } from '../../gpu/context';
import { Tensor } from '../tensor';
import { gridFold, kernelCode, outTensor, sameSize, shapeText, uniforms } from './kernel';

/** Rows per workgroup (one invocation each); the shader's ROWS. */
const ROWS = 64;
/** Largest head dimension: each invocation keeps up to four d-wide vectors in private memory. */
export const MAX_HEAD_DIM = 256;

/**
 * What the backward needs from the forward. q, k, v and out are the caller's tensors, borrowed:
 * keep them alive (the tape saves them) until `attentionBackward`. Only `lse` is owned: free it
 * with `releaseAttention` (attentionBackward does by default).
 */
export interface AttentionSaved {
  /** (B, T, H·d), borrowed. */
  q: Tensor;
  k: Tensor;
  v: Tensor;
  out: Tensor;
  /** Per (batch, head, query) log Σ_j exp(score), (B·H, T). */
  lse: Tensor;
  batch: number;
  tokens: number;
  heads: number;
  headDim: number;
  scale: number;
  causal: boolean;
}

export interface AttentionOptions {
  /** Preallocated output (B, T, H·d). */
  out?: Tensor;
  /** Keep what the backward needs (default true). With false only the output stays held. */
  save?: boolean;
  /** Score scale, default 1/√d (HF ViT divides by √head_size; CLIP multiplies q by head_dim⁻⁰·⁵). */
  scale?: number;
  /** Token t attends only to tokens 0…t (CLIP's text tower). */
  causal?: boolean;
}

export interface AttentionResult {
  out: Tensor;
  saved?: AttentionSaved;
}

interface Dims {
  batch: number;
  tokens: number;
  heads: number;
  headDim: number;
}

function dimsOf(op: string, q: Tensor, heads: number): Dims {
  if (q.shape.length !== 3) throw new Error(`${op}: q must be (batch, tokens, hidden), got ${shapeText(q.shape)}`);
  const [batch, tokens, hidden] = q.shape;
  if (!Number.isInteger(heads) || heads < 1 || hidden % heads !== 0) {
    throw new Error(`${op}: hidden size ${hidden} is not divisible into ${heads} heads (num_attention_heads in config.json)`);
  }
  const headDim = hidden / heads;
  if (headDim > MAX_HEAD_DIM) {
    throw new Error(`${op}: head dimension ${headDim} (hidden ${hidden} / ${heads} heads) is over the ${MAX_HEAD_DIM} the fused kernel supports`);
  }
  return { batch, tokens, heads, headDim };
}

/**
 * Rows of the streamed side per tile: two d-wide operands plus two per-row scalars (the dK/dV
 * kernel's L and Δ) within 16 000 bytes, under WebGPU's default 16 KiB of workgroup memory.
 * d = 64 → 30, d = 32 → 60, d ≤ 30 → 64. Called with the head size's class (`maxD`).
 */
export function attentionTile(headDim: number): number {
  return Math.max(1, Math.min(64, Math.floor(4000 / (2 * headDim + 2))));
}

/** Private arrays and tiles are sized for the next power of two ≥ d, one pipeline per size class. */
function maxD(headDim: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(4, headDim)));
}

type Mode = 'forward' | 'dq' | 'dkv';

function launch(ctx: GpuContext, op: string, mode: Mode, d: Dims, scale: number, causal: boolean, buffers: Tensor[], shapes: Record<string, readonly number[]>): void {
  const tiles = Math.ceil(d.tokens / ROWS);
  const groups = d.batch * d.heads * tiles;
  if (groups === 0 || d.headDim === 0) return;
  const { buffer, u, f } = uniforms(12);
  u.set([d.batch, d.tokens, d.heads, d.heads * d.headDim, causal ? 1 : 0, tiles, groups]);
  f[7] = scale;
  u[8] = d.headDim;
  u[9] = Math.ceil(d.headDim / 4);
  const writes = mode === 'forward' ? 2 : mode === 'dq' ? 1 : 2;
  ctx.launch({
    op,
    shapes,
    code: kernelCode(
      attentionWgsl,
      { MAX_D4: maxD(d.headDim) / 4, TILE: attentionTile(maxD(d.headDim)), FORWARD: mode === 'forward', BACKWARD_DQ: mode === 'dq', BACKWARD_DKV: mode === 'dkv' },
      'attention.wgsl',
    ),
    uniforms: buffer,
    bindings: buffers.map((t, i) => ({ buffer: t.buffer, access: i >= buffers.length - writes ? ('write' as const) : ('read' as const) })),
    workgroups: gridFold(groups),
  });
}

/**
 * softmax(q·kᵀ·scale)·v for each of `heads` heads. q, k, v: (B, T, H·d). Returns the attention
 * output (B, T, H·d) and, unless `save: false`, the state attentionBackward needs. One launch.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, heads: number, opts: AttentionOptions = {}): AttentionResult {
  const op = 'attention';
  const d = dimsOf(op, q, heads);
  for (const [name, t] of [
    ['k', k],
    ['v', v],
  ] as const) {
    if (t.shape.length !== 3 || t.shape.some((s, i) => s !== q.shape[i])) {
      throw new Error(`${op}: ${name} has shape ${shapeText(t.shape)}, q has ${shapeText(q.shape)}; they must match`);
    }
  }
  const scale = opts.scale ?? 1 / Math.sqrt(d.headDim);
  const causal = opts.causal ?? false;
  const out = outTensor(q.ctx, op, q.shape, opts.out);
  const lse = Tensor.empty(q.ctx, [d.batch * d.heads, d.tokens], 'attention_lse');
  launch(q.ctx, op, 'forward', d, scale, causal, [q, k, v, out, lse], { q: q.shape, k: k.shape, v: v.shape });
  if (opts.save === false) {
    lse.release();
    return { out };
  }
  const o = out.shape.length === 3 ? out : out.reshape(q.shape);
  return { out, saved: { q, k, v, out: o, lse, scale, causal, ...d } };
}

export interface AttentionBackwardOptions {
  /** Preallocated gradients (B, T, H·d). */
  dq?: Tensor;
  dk?: Tensor;
  dv?: Tensor;
  /** Free the saved logsumexp once used (default true). */
  release?: boolean;
}

export interface AttentionGrads {
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
}

/**
 * Gradients wrt q, k and v, each (B, T, H·d), from the output gradient dOut (B, T, H·d). Two
 * launches: dK and dV (each workgroup owns a key tile and loops over query tiles), then dQ (a
 * query tile, looping over key tiles). Δ = rowsum(dO ⊙ O) is computed inside both.
 */
export function attentionBackward(dOut: Tensor, saved: AttentionSaved, opts: AttentionBackwardOptions = {}): AttentionGrads {
  const op = 'attention_backward';
  const { batch, tokens, heads, headDim, scale, causal } = saved;
  const shape = [batch, tokens, heads * headDim];
  sameSize(op, 'dOut', dOut, batch * tokens * heads * headDim, `(${batch}, ${tokens}, ${heads * headDim})`);
  const ctx = dOut.ctx;
  const dq = outTensor(ctx, op, shape, opts.dq, 'attention_dq');
  const dk = outTensor(ctx, op, shape, opts.dk, 'attention_dk');
  const dv = outTensor(ctx, op, shape, opts.dv, 'attention_dv');
  const { q, k, v, out, lse } = saved;
  launch(ctx, 'attention_dkv', 'dkv', saved, scale, causal, [q, k, v, out, lse, dOut, dk, dv], { dOut: dOut.shape });
  launch(ctx, 'attention_dq', 'dq', saved, scale, causal, [q, k, v, out, lse, dOut, dq], { dOut: dOut.shape });
  if (opts.release ?? true) releaseAttention(saved);
  return { dq, dk, dv };
}

/** Frees what the forward allocated for the backward (the logsumexp); q, k, v and out stay the caller's. */
export function releaseAttention(saved: AttentionSaved): void {
  saved.lse.release();
}
