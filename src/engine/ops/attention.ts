/**
 * Multi-head self-attention core, softmax(q·kᵀ·scale)·v per head, and its backward, for HF ViT
 * and CLIP vision layers. q, k and v come straight from the query / key / value linear layers as
 * (B, T, H·d) with head h in hidden columns h·d … h·d + d − 1; the output is in the same layout,
 * ready for the output projection. Vision transformers attend over every token; CLIP's text
 * tower passes `causal` so token t sees only tokens 0…t.
 *
 * Forward: split heads to (B·H, T, d) → S = scale·q·kᵀ (batched GEMM) → row softmax in place →
 * O = P·v → merge heads. Backward: dP = dO·vᵀ, dv = Pᵀ·dO, dS = P ⊙ (dP − rowsum(dP ⊙ P)),
 * dq = scale·dS·k, dk = scale·dSᵀ·q. The probabilities P (B·H·T² floats) are kept for the
 * backward: for ViT-B at batch 32 that is 60 MB, the price of reusing the tuned GEMM.
 */
import attentionWgsl from '../../../shaders/attention.wgsl';
import { Tensor } from '../tensor';
import { grid1D, kernelCode, outTensor, placeholder, sameSize, shapeText, uniforms } from './kernel';
import { matmul } from './matmul';

/** What the backward needs from the forward. Everything here is owned by it: free with `releaseAttention`. */
export interface AttentionSaved {
  /** q, k, v with heads split out, (B·H, T, d). */
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** softmax(scale·q·kᵀ), (B·H, T, T). */
  probs: Tensor;
  batch: number;
  tokens: number;
  heads: number;
  headDim: number;
  scale: number;
}

export interface AttentionOptions {
  /** Preallocated output (B, T, H·d). */
  out?: Tensor;
  /** Keep what the backward needs (default true). With false the temporaries go back to the pool at once. */
  save?: boolean;
  /** Score scale, default 1/√d (HF ViT divides by √head_size; CLIP multiplies q by head_dim⁻⁰·⁵). */
  scale?: number;
  /** Token t attends only to tokens 0…t (CLIP's text tower). The backward needs nothing more: masked probabilities are 0. */
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
  return { batch, tokens, heads, headDim: hidden / heads };
}

function permute(src: Tensor, dst: Tensor, d: Dims, merge: boolean, op: string): void {
  const n = d.batch * d.tokens * d.heads * d.headDim;
  const { buffer, u } = uniforms(8);
  u.set([d.batch, d.tokens, d.heads, d.headDim, n, merge ? 1 : 0]);
  if (n === 0) return;
  src.ctx.launch({
    op,
    shapes: { src: src.shape, dst: dst.shape },
    code: kernelCode(attentionWgsl, { SOFTMAX: false, ONE_LANE: false, SUBGROUPS: false }, 'attention.wgsl'),
    uniforms: buffer,
    bindings: [
      { buffer: src.buffer, access: 'read' },
      { buffer: dst.buffer, access: 'write' },
    ],
    workgroups: grid1D(n),
  });
}

/** (B, T, H·d) → (B·H, T, d): heads out of the hidden dimension into a GEMM batch. */
export function splitHeads(x: Tensor, heads: number, out?: Tensor): Tensor {
  const d = dimsOf('split_heads', x, heads);
  const o = outTensor(x.ctx, 'split_heads', [d.batch * heads, d.tokens, d.headDim], out);
  permute(x, o, d, false, 'split_heads');
  return o;
}

/** (B·H, T, d) → (B, T, H·d): the inverse of splitHeads. */
export function mergeHeads(x: Tensor, batch: number, out?: Tensor): Tensor {
  if (x.shape.length !== 3 || x.shape[0] % batch !== 0) {
    throw new Error(`merge_heads: x must be (batch·heads, tokens, head_dim) with batch ${batch}, got ${shapeText(x.shape)}`);
  }
  const [bh, tokens, headDim] = x.shape;
  const heads = bh / batch;
  const o = outTensor(x.ctx, 'merge_heads', [batch, tokens, heads * headDim], out);
  permute(x, o, { batch, tokens, heads, headDim }, true, 'merge_heads');
  return o;
}

function softmaxLaunch(a: Tensor, p: Tensor | undefined, backward: boolean, op: string, causal = false): void {
  const cols = a.cols;
  const rows = cols > 0 ? a.size / cols : 0;
  if (rows === 0) return;
  const { buffer, u } = uniforms(4);
  u.set([rows, cols, backward ? 1 : 0, causal ? 1 : 0]);
  a.ctx.launch({
    op,
    shapes: { x: a.shape },
    // Rows up to 256 wide get one invocation each: no cross-lane reduction for subgroups to speed up.
    code: kernelCode(attentionWgsl, { SOFTMAX: true, ONE_LANE: cols <= 256, SUBGROUPS: cols > 256 && a.ctx.subgroupReductions }, 'attention.wgsl'),
    uniforms: buffer,
    bindings: [
      { buffer: a.buffer, access: 'write' },
      { buffer: p?.buffer ?? placeholder(a.ctx), access: 'read' },
    ],
    workgroups: grid1D(cols <= 256 ? Math.ceil(rows / 64) : rows, 1),
  });
}

/**
 * Softmax over the last dimension, in place: x becomes softmax(x). Returns x. With `causal`, x is
 * a stack of (T, T) score matrices and row t keeps only columns 0…t (the rest become 0), as
 * under transformers' causal attention mask.
 */
export function softmaxRowsInPlace(x: Tensor, opts: { causal?: boolean } = {}): Tensor {
  if (opts.causal && x.shape[x.shape.length - 2] !== x.cols) {
    throw new Error(`softmax: a causal mask needs square (…, T, T) scores, got ${shapeText(x.shape)}`);
  }
  softmaxLaunch(x, undefined, false, 'softmax', opts.causal);
  return x;
}

/** Softmax backward in place: dp (the gradient wrt the probabilities p) becomes dS = p ⊙ (dp − rowsum(dp ⊙ p)). */
export function softmaxRowsBackwardInPlace(p: Tensor, dp: Tensor): Tensor {
  sameSize('softmax_backward', 'dp', dp, p.size, `the shape of p ${shapeText(p.shape)}`);
  if (dp.cols !== p.cols) throw new Error(`softmax_backward: rows of p ${shapeText(p.shape)} and dp ${shapeText(dp.shape)} differ`);
  softmaxLaunch(dp, p, true, 'softmax_backward');
  return dp;
}

function as3d(t: Tensor, b: number, r: number, c: number): Tensor {
  return t.shape.length === 3 ? t : t.reshape([b, r, c]);
}

/**
 * softmax(q·kᵀ·scale)·v for each of `heads` heads. q, k, v: (B, T, H·d). Returns the attention
 * output (B, T, H·d) and, unless `save: false`, the state attentionBackward needs.
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
  const bh = d.batch * d.heads;
  const scale = opts.scale ?? 1 / Math.sqrt(d.headDim);
  const qh = splitHeads(q, heads);
  const kh = splitHeads(k, heads);
  const vh = splitHeads(v, heads);
  const probs = as3d(matmul(qh, kh, { transB: true, alpha: scale, op: 'attention_scores' }), bh, d.tokens, d.tokens);
  softmaxRowsInPlace(probs, { causal: opts.causal });
  const ctxH = as3d(matmul(probs, vh, { op: 'attention_context' }), bh, d.tokens, d.headDim);
  const out = mergeHeads(ctxH, d.batch, opts.out);
  ctxH.release();
  const saved: AttentionSaved = { q: qh, k: kh, v: vh, probs, scale, ...d };
  if (opts.save === false) {
    releaseAttention(saved);
    return { out };
  }
  return { out, saved };
}

export interface AttentionBackwardOptions {
  /** Preallocated gradients (B, T, H·d). */
  dq?: Tensor;
  dk?: Tensor;
  dv?: Tensor;
  /** Free the saved state once used (default true). */
  release?: boolean;
}

export interface AttentionGrads {
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
}

/** Gradients wrt q, k and v, each (B, T, H·d), from the output gradient dOut (B, T, H·d). */
export function attentionBackward(dOut: Tensor, saved: AttentionSaved, opts: AttentionBackwardOptions = {}): AttentionGrads {
  const op = 'attention_backward';
  const { batch, tokens, heads, headDim, scale } = saved;
  const bh = batch * heads;
  sameSize(op, 'dOut', dOut, batch * tokens * heads * headDim, `(${batch}, ${tokens}, ${heads * headDim})`);
  const dO = dOut.shape.length === 3 ? dOut : dOut.reshape([batch, tokens, heads * headDim]);
  const dOh = splitHeads(dO, heads);
  // dP = dO·vᵀ, then in place dS = P ⊙ (dP − rowsum(dP ⊙ P)).
  const dS = as3d(matmul(dOh, saved.v, { transB: true, op: 'attention_dprobs' }), bh, tokens, tokens);
  const dVh = as3d(matmul(saved.probs, dOh, { transA: true, op: 'attention_dv' }), bh, tokens, headDim);
  dOh.release();
  softmaxRowsBackwardInPlace(saved.probs, dS);
  const dQh = as3d(matmul(dS, saved.k, { alpha: scale, op: 'attention_dq' }), bh, tokens, headDim);
  const dKh = as3d(matmul(dS, saved.q, { transA: true, alpha: scale, op: 'attention_dk' }), bh, tokens, headDim);
  dS.release();
  const dq = mergeHeads(dQh, batch, opts.dq);
  const dk = mergeHeads(dKh, batch, opts.dk);
  const dv = mergeHeads(dVh, batch, opts.dv);
  for (const t of [dQh, dKh, dVh]) t.release();
  if (opts.release ?? true) releaseAttention(saved);
  return { dq, dk, dv };
}

export function releaseAttention(saved: AttentionSaved): void {
  for (const t of [saved.q, saved.k, saved.v, saved.probs]) t.release();
}
