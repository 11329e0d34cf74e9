/**
 * Element-wise ops: residual adds, scaling, bias broadcasting, GELU / quick_gelu and their
 * gradients, copies and f16/bf16 → f32 casts. Every arithmetic op here is one pipeline
 * (shaders/elementwise.wgsl) whose mode is a uniform, so they share a single compile.
 *
 * Conventions:
 * - `out` may be passed to write into a preallocated tensor; without it a new tensor is made
 *   from the context's pool. Where noted, `out` may be the same tensor as an input (in place).
 * - Shapes only need equal sizes: these ops look at flat data.
 * - Nothing here reads back to the CPU.
 */
import elementwiseWgsl from '../../../shaders/elementwise.wgsl';
import type { GpuContext } from '../../gpu/context';
import { Tensor } from '../tensor';
import { grid1D, kernelCode, outTensor, placeholder, sameSize, shapeText, uniforms } from './kernel';

export type ActivationName = 'gelu' | 'quick_gelu';

const MODE = {
  combine: 0,
  accumulate: 1,
  gelu: 2,
  quickGelu: 3,
  geluBackward: 4,
  quickGeluBackward: 5,
  geluBackwardInPlace: 6,
  quickGeluBackwardInPlace: 7,
} as const;

interface ElementwiseLaunch {
  op: string;
  mode: number;
  n: number;
  x?: Tensor;
  z?: Tensor;
  out: Tensor;
  alpha?: number;
  beta?: number;
  xmod?: number;
  zmod?: number;
}

function run(l: ElementwiseLaunch): Tensor {
  const ctx = l.out.ctx;
  const { buffer, u, f } = uniforms(8);
  u.set([l.n, l.mode, l.xmod ?? 0, l.zmod ?? 0]);
  f[4] = l.alpha ?? 1;
  f[5] = l.beta ?? 0;
  if (l.n === 0) return l.out;
  ctx.launch({
    op: l.op,
    shapes: { out: l.out.shape, ...(l.x ? { x: l.x.shape } : {}), ...(l.z ? { z: l.z.shape } : {}) },
    code: kernelCode(elementwiseWgsl, { CAST: false }, 'elementwise.wgsl'),
    uniforms: buffer,
    bindings: [
      { buffer: l.x?.buffer ?? placeholder(ctx), access: 'read', binding: 1 },
      { buffer: l.z?.buffer ?? placeholder(ctx), access: 'read', binding: 2 },
      { buffer: l.out.buffer, access: 'write', binding: 3 },
    ],
    workgroups: grid1D(l.n),
  });
  return l.out;
}

function same(a: Tensor, b: Tensor | undefined): boolean {
  return !!b && a.buffer === b.buffer;
}

/**
 * out = a + b (same sizes). `out` may be `a` or `b` (in place: a residual add `x += f(x)`).
 */
export function add(a: Tensor, b: Tensor, out?: Tensor): Tensor {
  sameSize('add', 'b', b, a.size, `${a.size} values like a ${shapeText(a.shape)}`);
  return combine(a, b, 1, 1, out, 'add');
}

/**
 * out = alpha·a + beta·b (same sizes). `out` may be `a` or `b`.
 */
export function combine(a: Tensor, b: Tensor, alpha: number, beta: number, out?: Tensor, op = 'combine'): Tensor {
  sameSize(op, 'b', b, a.size, `${a.size} values like a ${shapeText(a.shape)}`);
  if (same(a, b) && (same(a, out) || !out)) {
    // a and b alias: one read binding serves both.
    const o = outTensor(a.ctx, op, a.shape, out);
    if (same(a, o)) return run({ op, mode: MODE.accumulate, n: a.size, out: o, alpha: 0, beta: alpha + beta });
    return run({ op, mode: MODE.combine, n: a.size, x: a, out: o, alpha: alpha + beta, beta: 0 });
  }
  if (same(a, out)) return run({ op, mode: MODE.accumulate, n: a.size, x: b, out: a, alpha: beta, beta: alpha });
  if (same(b, out)) return run({ op, mode: MODE.accumulate, n: a.size, x: a, out: b, alpha, beta });
  const o = outTensor(a.ctx, op, a.shape, out);
  return run({ op, mode: MODE.combine, n: a.size, x: a, z: b, out: o, alpha, beta });
}

/**
 * acc = beta·acc + alpha·x, in place: gradient accumulation over micro-batches (alpha = beta = 1),
 * adding a second gradient path into an existing one, or a residual add into the stream.
 */
export function accumulate(acc: Tensor, x: Tensor, alpha = 1, beta = 1): Tensor {
  sameSize('accumulate', 'x', x, acc.size, `${acc.size} values like acc ${shapeText(acc.shape)}`);
  if (same(acc, x)) return run({ op: 'accumulate', mode: MODE.accumulate, n: acc.size, out: acc, alpha: 0, beta: alpha + beta });
  return run({ op: 'accumulate', mode: MODE.accumulate, n: acc.size, x, out: acc, alpha, beta });
}

/** out = s·x. `out` may be `x` (in place, e.g. dividing accumulated gradients by their count). */
export function scale(x: Tensor, s: number, out?: Tensor): Tensor {
  if (same(x, out)) return run({ op: 'scale', mode: MODE.accumulate, n: x.size, out: x, alpha: 0, beta: s });
  const o = outTensor(x.ctx, 'scale', x.shape, out);
  return run({ op: 'scale', mode: MODE.combine, n: x.size, x, out: o, alpha: s, beta: 0 });
}

/** out = x + bias broadcast over every row: x (..., N), bias with N values. `out` may be `x`. */
export function biasAdd(x: Tensor, bias: Tensor, out?: Tensor): Tensor {
  const N = x.cols;
  if (bias.size !== N) throw new Error(`biasAdd: bias has shape ${shapeText(bias.shape)}, needs ${N} values for x ${shapeText(x.shape)}`);
  if (same(x, out)) return run({ op: 'bias_add', mode: MODE.accumulate, n: x.size, x: bias, xmod: N, out: x, alpha: 1, beta: 1 });
  const o = outTensor(x.ctx, 'bias_add', x.shape, out);
  return run({ op: 'bias_add', mode: MODE.combine, n: x.size, x, z: bias, zmod: N, out: o, alpha: 1, beta: 1 });
}

/**
 * Broadcast add: out[i] = x[i] + y[i mod y.size], e.g. position embeddings (T, D) added to every
 * batch entry of (B, T, D). `out` may be `x`.
 */
export function broadcastAdd(x: Tensor, y: Tensor, out?: Tensor): Tensor {
  if (y.size === 0 || x.size % y.size !== 0) {
    throw new Error(`broadcastAdd: y ${shapeText(y.shape)} does not tile x ${shapeText(x.shape)}`);
  }
  if (same(x, out)) return run({ op: 'broadcast_add', mode: MODE.accumulate, n: x.size, x: y, xmod: y.size, out: x, alpha: 1, beta: 1 });
  const o = outTensor(x.ctx, 'broadcast_add', x.shape, out);
  return run({ op: 'broadcast_add', mode: MODE.combine, n: x.size, x, z: y, zmod: y.size, out: o, alpha: 1, beta: 1 });
}

/** Exact (erf) GELU, as HF ViT's hidden_act "gelu". Keep `x` (pre-activation) for the backward. */
export function gelu(x: Tensor, out?: Tensor): Tensor {
  return activation(x, 'gelu', out);
}

/** quick_gelu, x·σ(1.702x), as CLIP's hidden_act "quick_gelu". */
export function quickGelu(x: Tensor, out?: Tensor): Tensor {
  return activation(x, 'quick_gelu', out);
}

export function activation(x: Tensor, act: ActivationName, out?: Tensor): Tensor {
  const op = act === 'gelu' ? 'gelu' : 'quick_gelu';
  if (same(x, out)) throw new Error(`${op}: out must not be x: the backward needs the pre-activation x`);
  const o = outTensor(x.ctx, op, x.shape, out);
  return run({ op, mode: act === 'gelu' ? MODE.gelu : MODE.quickGelu, n: x.size, x, out: o });
}

/** dX = dY ⊙ gelu'(x), x the pre-activation input. `out` may be `dy` (in place). */
export function geluBackward(x: Tensor, dy: Tensor, out?: Tensor): Tensor {
  return activationBackward(x, dy, 'gelu', out);
}

/** dX = dY ⊙ quick_gelu'(x), x the pre-activation input. `out` may be `dy` (in place). */
export function quickGeluBackward(x: Tensor, dy: Tensor, out?: Tensor): Tensor {
  return activationBackward(x, dy, 'quick_gelu', out);
}

export function activationBackward(x: Tensor, dy: Tensor, act: ActivationName, out?: Tensor): Tensor {
  const op = `${act}_backward`;
  sameSize(op, 'dy', dy, x.size, `${x.size} values like x ${shapeText(x.shape)}`);
  if (same(x, out)) throw new Error(`${op}: out must not be x`);
  const gelu = act === 'gelu';
  if (same(dy, out)) {
    return run({ op, mode: gelu ? MODE.geluBackwardInPlace : MODE.quickGeluBackwardInPlace, n: x.size, x, out: dy });
  }
  const o = outTensor(x.ctx, op, x.shape, out);
  return run({ op, mode: gelu ? MODE.geluBackward : MODE.quickGeluBackward, n: x.size, x, z: dy, out: o });
}

/** out = x, as a buffer copy in the current batch (no kernel). */
export function copy(x: Tensor, out?: Tensor): Tensor {
  const o = outTensor(x.ctx, 'copy', x.shape, out);
  if (same(x, o)) return o;
  if (x.size > 0) x.ctx.copy(x.buffer, 0, o.buffer, 0, x.size * 4);
  return o;
}

/**
 * Copies `count` floats from `src` at element `srcOffset` to `dst` at `dstOffset` (a buffer copy
 * in the current batch). The building block for slicing rows out of and into token tensors.
 */
export function copyRange(src: Tensor, srcOffset: number, dst: Tensor, dstOffset: number, count: number): void {
  if (srcOffset < 0 || dstOffset < 0 || srcOffset + count > src.size || dstOffset + count > dst.size) {
    throw new Error(
      `copyRange: ${count} values from ${srcOffset} of ${shapeText(src.shape)} to ${dstOffset} of ${shapeText(dst.shape)} run out of bounds`,
    );
  }
  if (count > 0) src.ctx.copy(src.buffer, srcOffset * 4, dst.buffer, dstOffset * 4, count * 4);
}

export type HalfType = 'f16' | 'bf16';

/**
 * Uploads 16-bit floats (IEEE half or bfloat16, little-endian, as safetensors stores F16 / BF16)
 * and converts them to an f32 tensor on the GPU. The work is submitted before the staging buffer
 * goes back to the pool, so a following upload cannot overwrite it before the cast has run.
 */
export function castToF32(ctx: GpuContext, shape: readonly number[], data: Uint16Array | Uint8Array, dtype: HalfType, label = 'cast'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = data instanceof Uint16Array ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data;
  if (bytes.byteLength !== n * 2) {
    throw new Error(`castToF32: ${label} has ${bytes.byteLength} bytes, shape ${shapeText(shape)} of ${dtype} needs ${n * 2}`);
  }
  const out = Tensor.empty(ctx, shape, label);
  if (n === 0) return out;
  const padded = bytes.byteLength % 4 === 0 && bytes.byteOffset % 4 === 0 ? bytes : copyPadded(bytes);
  const raw = ctx.buffer(Math.max(4, padded.byteLength), `${label}-raw`);
  ctx.upload(raw, padded);
  const { buffer, u } = uniforms(4);
  u.set([n, dtype === 'bf16' ? 1 : 0]);
  ctx.launch({
    op: `cast_${dtype}`,
    shapes: { out: shape },
    code: kernelCode(elementwiseWgsl, { CAST: true }, 'elementwise.wgsl'),
    uniforms: buffer,
    bindings: [
      { buffer: raw, access: 'read', binding: 1 },
      { buffer: out.buffer, access: 'write', binding: 3 },
    ],
    workgroups: grid1D(n),
  });
  ctx.submit();
  ctx.release(raw);
  return out;
}

function copyPadded(bytes: Uint8Array): Uint8Array {
  const p = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  p.set(bytes);
  return p;
}
