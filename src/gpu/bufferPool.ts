/**
 * Reuses GPU buffers: training allocates the same sizes at every step, and creating buffers is
 * slow and fragments memory. Sizes round up to a bucket so near-equal requests share buffers.
 *
 * A bucket hands out its oldest free buffer (lowest creation number), not the last released. A
 * step releases everything it took, so each step starts from the same free set; with a fixed
 * choice from that set, every step gets the very same buffer for each tensor, and the launch
 * path's cached bind groups (keyed by buffer) are hits from step 2 on. Handing out the last
 * released would permute the buffers from step to step and miss the cache.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  /** Creation number of each buffer: free lists are kept sorted by it, highest first. */
  private readonly order = new WeakMap<GPUBuffer, number>();
  /** Buffers sitting in the free lists: releasing one again would hand it out twice. */
  private readonly idle = new WeakSet<GPUBuffer>();
  /** Bytes held by buffers handed out and not yet released. */
  inUseBytes = 0;
  /** Buffers handed out and not yet released: back at its baseline after a run, or something leaked. */
  live = 0;
  /** Bytes held by the pool in total, handed out or kept for reuse. */
  allocatedBytes = 0;
  peakAllocatedBytes = 0;
  created = 0;
  reused = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Told before a buffer is destroyed, so nothing cached (bind groups) keeps using it. */
    private readonly onDestroy?: (buffer: GPUBuffer) => void,
  ) {}

  static bucket(bytes: number): number {
    const b = Math.max(16, Math.ceil(bytes / 4) * 4);
    if (b <= 4096) return Math.ceil(b / 256) * 256;
    // Above 4 KiB: steps of 1/8 of the next power of two, so at most 12.5% is wasted.
    const p = 2 ** Math.floor(Math.log2(b));
    const step = p / 8;
    return Math.ceil(b / step) * step;
  }

  acquire(bytes: number, usage: GPUBufferUsageFlags, label?: string): GPUBuffer {
    const size = BufferPool.bucket(bytes);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    let buffer = list?.pop();
    if (buffer) {
      this.idle.delete(buffer);
      this.reused++;
    } else {
      buffer = this.device.createBuffer({ size, usage, label });
      this.sizes.set(buffer, size);
      this.order.set(buffer, this.created);
      this.created++;
      this.allocatedBytes += size;
      this.peakAllocatedBytes = Math.max(this.peakAllocatedBytes, this.allocatedBytes);
    }
    this.inUseBytes += size;
    this.live++;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = this.sizes.get(buffer);
    if (size === undefined) throw new Error('BufferPool.release: this buffer was not acquired from the pool');
    if (this.idle.has(buffer)) {
      throw new Error(`BufferPool.release: buffer "${buffer.label}" was released twice (two tensors share it, e.g. a reshape view and its base)`);
    }
    this.idle.add(buffer);
    this.inUseBytes -= size;
    this.live--;
    const key = `${buffer.usage}:${size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    // Insert by creation number, highest first, so pop() hands out the oldest (see the class comment).
    const n = this.order.get(buffer)!;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.order.get(list[mid])! > n) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, buffer);
  }

  /** Destroys the buffers kept for reuse (those handed out stay valid). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.allocatedBytes -= this.sizes.get(b) ?? 0;
        this.onDestroy?.(b);
        b.destroy();
      }
    }
    this.free.clear();
  }
}
