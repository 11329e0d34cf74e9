import { getFloat16, setFloat16 } from '@petamoriken/float16';
import type { GpuContext } from '../gpu/context';

/**
 * How a tensor's values are stored: 'f32', or 'f16' as pairs of IEEE half floats packed into u32
 * words (element 2i in the low half, 2i+1 in the high half), which kernels read with WGSL's core
 * `unpack2x16float` — no `shader-f16` needed. Only frozen weights are stored in f16 (mixed
 * precision, see VisionTransformer.storeFrozenInF16); the arithmetic stays f32.
 */
export type DType = 'f32' | 'f16';

/** Bytes of `size` values stored as `dtype` (f16 pairs round up to whole u32 words). */
export function storageBytes(size: number, dtype: DType): number {
  return dtype === 'f16' ? Math.ceil(size / 2) * 4 : size * 4;
}

/** A dense, row-major array on the GPU, f32 unless `dtype` says f16. Its buffer comes from the context's pool. */
export class Tensor {
  readonly size: number;
  private released = false;

  constructor(
    readonly ctx: GpuContext,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly label = 'tensor',
    readonly dtype: DType = 'f32',
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
    if (buffer.size < storageBytes(this.size, dtype)) {
      throw new Error(`Tensor ${label}: buffer of ${buffer.size} bytes cannot hold shape [${shape.join(',')}] in ${dtype}`);
    }
  }

  /**
   * Values rounded to f16 (round to nearest even, on the CPU) and packed in pairs: half the bytes of
   * f32. Values beyond f16's range (|x| > 65504) are refused, since they would become infinite.
   */
  static fromF16(ctx: GpuContext, shape: readonly number[], data: ArrayLike<number>, label = 'tensor'): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`Tensor ${label}: ${data.length} values given for shape [${shape.join(',')}] (${size} needed)`);
    const words = new Uint32Array(Math.ceil(size / 2));
    const view = new DataView(words.buffer);
    for (let i = 0; i < size; i++) {
      const x = data[i];
      if (Math.abs(x) > 65504) {
        throw new Error(`Tensor ${label}: value ${x} at index ${i} is outside f16's range (±65504); keep this tensor in f32 (turn mixed precision off)`);
      }
      setFloat16(view, i * 2, x, true);
    }
    const t = new Tensor(ctx, ctx.buffer(Math.max(4, words.byteLength), label), shape, label, 'f16');
    ctx.upload(t.buffer, words);
    return t;
  }

  /** Bytes the values take on the GPU. */
  get bytes(): number {
    return storageBytes(this.size, this.dtype);
  }

  static empty(ctx: GpuContext, shape: readonly number[], label = 'tensor'): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    return new Tensor(ctx, ctx.buffer(Math.max(4, size * 4), label), shape, label);
  }

  static zeros(ctx: GpuContext, shape: readonly number[], label = 'zeros'): Tensor {
    const t = Tensor.empty(ctx, shape, label);
    ctx.clear(t.buffer, 0, Math.ceil((t.size * 4) / 4) * 4 || 4);
    return t;
  }

  static from(ctx: GpuContext, shape: readonly number[], data: ArrayLike<number>, label = 'tensor'): Tensor {
    const t = Tensor.empty(ctx, shape, label);
    if (data.length !== t.size) {
      throw new Error(`Tensor ${label}: ${data.length} values given for shape [${shape.join(',')}] (${t.size} needed)`);
    }
    ctx.upload(t.buffer, data instanceof Float32Array ? data : Float32Array.from(data));
    return t;
  }

  get rows(): number {
    return this.shape.length >= 2 ? this.shape[this.shape.length - 2] : 1;
  }

  get cols(): number {
    return this.shape[this.shape.length - 1] ?? 1;
  }

  /** The same buffer viewed with another shape of equal size. */
  reshape(shape: readonly number[]): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== this.size) throw new Error(`cannot reshape [${this.shape.join(',')}] to [${shape.join(',')}]`);
    return new Tensor(this.ctx, this.buffer, shape, this.label, this.dtype);
  }

  /** The values as f32 (an f16 tensor's values widened exactly). */
  async read(): Promise<Float32Array> {
    if (this.dtype === 'f32') return this.ctx.readF32(this.buffer, this.size);
    const view = new DataView(await this.ctx.read(this.buffer, storageBytes(this.size, 'f16')));
    const out = new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) out[i] = getFloat16(view, i * 2, true);
    return out;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.ctx.release(this.buffer);
  }

  /** Frees the buffer for good instead of returning it to the pool (memory given up, not reused). */
  discard(): void {
    if (this.released) return;
    this.released = true;
    this.ctx.discard(this.buffer);
  }
}
