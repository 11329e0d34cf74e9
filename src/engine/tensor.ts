import type { GpuContext } from '../gpu/context';

/** A dense, row-major f32 array on the GPU. Its buffer comes from the context's pool. */
export class Tensor {
  readonly size: number;
  private released = false;

  constructor(
    readonly ctx: GpuContext,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly label = 'tensor',
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
    if (buffer.size < this.size * 4) {
      throw new Error(`Tensor ${label}: buffer of ${buffer.size} bytes cannot hold shape [${shape.join(',')}]`);
    }
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
    return new Tensor(this.ctx, this.buffer, shape, this.label);
  }

  async read(): Promise<Float32Array> {
    return this.ctx.readF32(this.buffer, this.size);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.ctx.release(this.buffer);
  }
}
