/**
 * The embedding stage of HF ViT and CLIP vision models:
 *
 *   patchEmbed   Conv2d(C → hidden, kernel = stride = p) as im2col + GEMM. ViT's conv has a bias
 *                (`embeddings.patch_embeddings.projection.bias`), CLIP's has none.
 *   embedTokens  prepend the class token (ViT `embeddings.cls_token`, CLIP
 *                `embeddings.class_embedding`; any number of prefix tokens) and add the position
 *                embeddings (ViT `embeddings.position_embeddings`, CLIP
 *                `embeddings.position_embedding.weight`).
 *
 * Backward gives gradients for the trainable tensors only (images need none): conv weight and
 * bias, prefix tokens and position embeddings, as full fine-tuning trains them.
 */
import embeddingsWgsl from '../../../shaders/embeddings.wgsl';
import { Tensor } from '../tensor';
import { broadcastAdd, copyRange } from './elementwise';
import { grid1D, kernelCode, outTensor, sameSize, shapeText, uniforms } from './kernel';
import { matmul } from './matmul';
import { sumRows } from './reduce';

export interface PatchGeometry {
  batch: number;
  channels: number;
  height: number;
  width: number;
  patch: number;
  /** Patches per column and per row: floor(height / patch), floor(width / patch). */
  gridH: number;
  gridW: number;
  numPatches: number;
}

export function patchGeometry(images: Tensor, patch: number): PatchGeometry {
  if (images.shape.length !== 4) {
    throw new Error(`patch_embed: images must be (batch, channels, height, width), got ${shapeText(images.shape)}`);
  }
  const [batch, channels, height, width] = images.shape;
  if (!Number.isInteger(patch) || patch < 1 || patch > height || patch > width) {
    throw new Error(`patch_embed: patch size ${patch} does not fit images of ${height}x${width} (patch_size in config.json)`);
  }
  const gridH = Math.floor(height / patch);
  const gridW = Math.floor(width / patch);
  return { batch, channels, height, width, patch, gridH, gridW, numPatches: gridH * gridW };
}

/** Images (B, C, H, W) → patches (B, gh·gw, C·p·p), each row flattened in the conv weight's (c, ky, kx) order. */
export function im2col(images: Tensor, patch: number, out?: Tensor): Tensor {
  const g = patchGeometry(images, patch);
  const K = g.channels * patch * patch;
  const o = outTensor(images.ctx, 'im2col', [g.batch, g.numPatches, K], out);
  const n = g.batch * g.numPatches * K;
  if (n === 0) return o;
  const { buffer, u } = uniforms(8);
  u.set([g.batch, g.channels, g.height, g.width, patch, g.gridH, g.gridW, n]);
  images.ctx.launch({
    op: 'im2col',
    shapes: { images: images.shape, patch },
    code: kernelCode(embeddingsWgsl, {}, 'embeddings.wgsl'),
    uniforms: buffer,
    bindings: [
      { buffer: images.buffer, access: 'read' },
      { buffer: o.buffer, access: 'write' },
    ],
    workgroups: grid1D(n),
  });
  return o;
}

export interface PatchEmbedSaved {
  /** im2col of the images, (B·Np, C·p·p): the weight gradient needs it. */
  patches: Tensor;
  geometry: PatchGeometry;
}

export interface PatchEmbedOptions {
  /** Preallocated output (B, Np, hidden). */
  out?: Tensor;
  /** Keep the patches for the backward (default true; false for frozen patch embeddings or evaluation). */
  save?: boolean;
}

/**
 * Conv2d(C → hidden, kernel = stride = p) on images (B, C, H, W) with weight (hidden, C, p, p) and
 * an optional bias (hidden): returns (B, Np, hidden), patches in row-major grid order, exactly
 * `conv(x).flatten(2).transpose(1, 2)` as HF computes it.
 */
export function patchEmbed(
  images: Tensor,
  weight: Tensor,
  bias: Tensor | undefined,
  opts: PatchEmbedOptions = {},
): { out: Tensor; saved?: PatchEmbedSaved } {
  const op = 'patch_embed';
  if (weight.shape.length !== 4) throw new Error(`${op}: weight must be (hidden, channels, p, p), got ${shapeText(weight.shape)}`);
  const [hidden, wc, p, p2] = weight.shape;
  if (p !== p2) throw new Error(`${op}: weight ${shapeText(weight.shape)} is not a square kernel`);
  const g = patchGeometry(images, p);
  if (wc !== g.channels) throw new Error(`${op}: weight expects ${wc} channels, images ${shapeText(images.shape)} have ${g.channels}`);
  if (bias) sameSize(op, 'bias', bias, hidden, `${hidden} values`);
  const K = g.channels * p * p;
  const patches = im2col(images, p).reshape([g.batch * g.numPatches, K]);
  const out = opts.out ? opts.out.reshape([g.batch * g.numPatches, hidden]) : undefined;
  const y = matmul(patches, weight.reshape([hidden, K]), { transB: true, bias, out, op });
  const result = opts.out ?? y.reshape([g.batch, g.numPatches, hidden]);
  if (opts.save === false) {
    patches.release();
    return { out: result };
  }
  return { out: result, saved: { patches, geometry: g } };
}

export interface PatchEmbedBackwardOptions {
  /** Gradient tensors to write (or add into, with accumulate); passing one implies it is wanted. */
  dweight?: Tensor;
  dbias?: Tensor;
  /** Compute dweight (default true) / dbias (default false: CLIP has no bias). */
  weightGrad?: boolean;
  biasGrad?: boolean;
  accumulate?: boolean;
  /** Free the saved patches afterwards (default true). */
  release?: boolean;
}

/** dweight = dYᵀ·patches (hidden, C, p, p) and dbias = column sums of dY, from dY (B, Np, hidden). */
export function patchEmbedBackward(
  dOut: Tensor,
  saved: PatchEmbedSaved,
  opts: PatchEmbedBackwardOptions = {},
): { dweight?: Tensor; dbias?: Tensor } {
  const op = 'patch_embed_backward';
  const g = saved.geometry;
  const rows = g.batch * g.numPatches;
  const hidden = rows > 0 ? dOut.size / rows : 0;
  if (!Number.isInteger(hidden) || hidden === 0) {
    throw new Error(`${op}: dOut ${shapeText(dOut.shape)} does not match ${g.batch} images of ${g.numPatches} patches`);
  }
  const K = g.channels * g.patch * g.patch;
  const dY = dOut.reshape([rows, hidden]);
  const ctx = dOut.ctx;
  const result: { dweight?: Tensor; dbias?: Tensor } = {};
  const acc = !!opts.accumulate;
  if (opts.weightGrad ?? true) {
    if (acc && !opts.dweight) throw new Error(`${op}: accumulate needs dweight to add into`);
    const dw = outTensor(ctx, op, [hidden, g.channels, g.patch, g.patch], opts.dweight, 'patch-dweight');
    matmul(dY, saved.patches, { transA: true, out: dw.reshape([hidden, K]), beta: acc ? 1 : 0, op: `${op}_weight` });
    result.dweight = dw;
  }
  if (opts.biasGrad ?? !!opts.dbias) {
    result.dbias = sumRows(dY, { out: opts.dbias, accumulate: acc, op: `${op}_bias` });
  }
  if (opts.release ?? true) saved.patches.release();
  return result;
}

/**
 * Token sequence from patch embeddings: out[b] = concat(prefix, patchEmb[b]) + pos.
 * patchEmb (B, Np, D); prefix holds P·D values (the class token: P = 1), pos (P + Np)·D values or
 * undefined. Returns (B, P + Np, D).
 */
export function embedTokens(patchEmb: Tensor, prefix: Tensor | undefined, pos: Tensor | undefined, out?: Tensor): Tensor {
  const op = 'embed_tokens';
  if (patchEmb.shape.length !== 3) throw new Error(`${op}: patch embeddings must be (batch, patches, hidden), got ${shapeText(patchEmb.shape)}`);
  const [B, Np, D] = patchEmb.shape;
  const nPrefix = prefix ? prefix.size / D : 0;
  if (!Number.isInteger(nPrefix)) throw new Error(`${op}: prefix ${shapeText(prefix!.shape)} is not a whole number of ${D}-wide tokens`);
  const T = nPrefix + Np;
  if (pos) sameSize(op, 'position embeddings', pos, T * D, `${T}x${D} (${nPrefix} prefix + ${Np} patch tokens)`);
  const o = outTensor(patchEmb.ctx, op, [B, T, D], out);
  for (let b = 0; b < B; b++) {
    if (prefix) copyRange(prefix, 0, o, b * T * D, nPrefix * D);
    copyRange(patchEmb, b * Np * D, o, (b * T + nPrefix) * D, Np * D);
  }
  if (pos) broadcastAdd(o, pos, o);
  return o;
}

export interface EmbedTokensBackwardOptions {
  /** Number of prefix tokens in front of the patches (1: the class token). */
  prefixTokens: number;
  /** Which gradients to produce: patch embeddings (default true), prefix and positions (default false). */
  patchGrad?: boolean;
  prefixGrad?: boolean;
  posGrad?: boolean;
  /** Targets; dPrefix / dPos are added into with accumulate. */
  dPatch?: Tensor;
  dPrefix?: Tensor;
  dPos?: Tensor;
  accumulate?: boolean;
}

/** From dOut (B, T, D): dPatch = dOut[:, P:], dPrefix = Σ_b dOut[b, :P], dPos = Σ_b dOut[b]. */
export function embedTokensBackward(
  dOut: Tensor,
  opts: EmbedTokensBackwardOptions,
): { dPatch?: Tensor; dPrefix?: Tensor; dPos?: Tensor } {
  const op = 'embed_tokens_backward';
  if (dOut.shape.length !== 3) throw new Error(`${op}: dOut must be (batch, tokens, hidden), got ${shapeText(dOut.shape)}`);
  const [B, T, D] = dOut.shape;
  const P = opts.prefixTokens;
  const Np = T - P;
  if (!Number.isInteger(P) || P < 0 || Np < 0) throw new Error(`${op}: ${P} prefix tokens do not fit ${T} tokens`);
  const acc = !!opts.accumulate;
  const result: { dPatch?: Tensor; dPrefix?: Tensor; dPos?: Tensor } = {};
  if (opts.patchGrad ?? true) {
    const dPatch = outTensor(dOut.ctx, op, [B, Np, D], opts.dPatch, 'dpatch');
    for (let b = 0; b < B; b++) copyRange(dOut, (b * T + P) * D, dPatch, b * Np * D, Np * D);
    result.dPatch = dPatch;
  }
  if (opts.posGrad ?? !!opts.dPos) {
    result.dPos = sumRows(dOut, { rows: B, cols: T * D, out: opts.dPos, accumulate: acc, op: `${op}_pos` });
  }
  if ((opts.prefixGrad ?? !!opts.dPrefix) && P > 0) {
    result.dPrefix = sumRows(dOut, { rows: B, cols: P * D, rowStride: T * D, out: opts.dPrefix, accumulate: acc, op: `${op}_prefix` });
  }
  return result;
}
