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
import { GpuMemoryLimitError } from './errors';

export interface BufferPoolHooks {
  /** Told before a buffer is destroyed, so nothing cached (bind groups) keeps using it. */
  onDestroy?: (buffer: GPUBuffer) => void;
  /** Submits work still recorded, before free buffers are destroyed to make room under the limit. */
  beforeTrim?: () => void;
}

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
  /**
   * An engine-side cap on `allocatedBytes` (undefined: none). Past it, free buffers are destroyed
   * to make room, and if that is not enough `acquire` throws a `GpuMemoryLimitError` at once,
   * before the device is asked: a run that does not fit fails cleanly at a known point. The page
   * or CLI may set it below what the driver would allow; tests use it to run out of memory.
   */
  limitBytes: number | undefined;
  /** Handed-out buffers by acquisition number, so a failed step's buffers can be reclaimed (`abandonSince`). */
  private readonly liveSet = new Map<GPUBuffer, number>();
  private acquisitions = 0;
  /** Buffers given up by `abandonSince`: a later release of one is ignored. */
  private readonly abandoned = new WeakSet<GPUBuffer>();

  constructor(
    private readonly device: GPUDevice,
    private readonly hooks: BufferPoolHooks = {},
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
      this.checkLimits(size, usage, label);
      buffer = this.device.createBuffer({ size, usage, label });
      this.sizes.set(buffer, size);
      this.order.set(buffer, this.created);
      this.created++;
      this.allocatedBytes += size;
      this.peakAllocatedBytes = Math.max(this.peakAllocatedBytes, this.allocatedBytes);
    }
    this.inUseBytes += size;
    this.live++;
    this.liveSet.set(buffer, ++this.acquisitions);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = this.sizes.get(buffer);
    if (size === undefined) throw new Error('BufferPool.release: this buffer was not acquired from the pool');
    if (this.abandoned.has(buffer)) return;
    if (this.idle.has(buffer)) {
      throw new Error(`BufferPool.release: buffer "${buffer.label}" was released twice (two tensors share it, e.g. a reshape view and its base)`);
    }
    this.idle.add(buffer);
    this.inUseBytes -= size;
    this.live--;
    this.liveSet.delete(buffer);
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

  /**
   * Destroys a handed-out buffer now instead of keeping it for reuse: for memory given up for good
   * (mixed precision's f32 copy of a frozen weight), which an idle free list would still hold.
   * Submit the work that reads it first (GpuContext.discard does).
   */
  discard(buffer: GPUBuffer): void {
    const size = this.sizes.get(buffer);
    if (size === undefined || !this.liveSet.has(buffer)) throw new Error(`BufferPool.discard: buffer "${buffer.label}" is not handed out by this pool`);
    this.liveSet.delete(buffer);
    this.inUseBytes -= size;
    this.allocatedBytes -= size;
    this.live--;
    this.hooks.onDestroy?.(buffer);
    buffer.destroy();
  }

  /** Destroys the buffers kept for reuse (those handed out stay valid). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.allocatedBytes -= this.sizes.get(b) ?? 0;
        this.hooks.onDestroy?.(b);
        b.destroy();
      }
    }
    this.free.clear();
  }

  /**
   * Fails before asking the device when a new buffer of `size` cannot be had: larger than the
   * device lets one buffer (or one storage binding) be, or past `limitBytes` even after the free
   * buffers are destroyed.
   */
  private checkLimits(size: number, usage: GPUBufferUsageFlags, label: string | undefined): void {
    const what = label ?? 'a buffer';
    const limits = this.device.limits;
    if (size > limits.maxBufferSize) {
      throw new GpuMemoryLimitError(what, size, this.allocatedBytes + size, limits.maxBufferSize, 'the largest single buffer (maxBufferSize)');
    }
    if (usage & GPUBufferUsage.STORAGE && size > limits.maxStorageBufferBindingSize) {
      throw new GpuMemoryLimitError(what, size, this.allocatedBytes + size, limits.maxStorageBufferBindingSize, 'the largest storage binding (maxStorageBufferBindingSize)');
    }
    if (this.limitBytes === undefined || this.allocatedBytes + size <= this.limitBytes) return;
    this.hooks.beforeTrim?.();
    this.trim();
    if (this.allocatedBytes + size > this.limitBytes) {
      throw new GpuMemoryLimitError(what, size, this.allocatedBytes + size, this.limitBytes, 'the memory limit');
    }
  }

  /** A mark for `abandonSince`: buffers handed out after it can be reclaimed together. */
  mark(): number {
    return this.acquisitions;
  }

  /**
   * Destroys every buffer handed out after `mark` and not yet released, and forgets it (a later
   * release of one is ignored). For a step that failed half-way (out of memory): the tensors it
   * made are unreachable, and without this their memory would stay taken from the runs after it.
   * Call after submitting the work recorded so far.
   */
  abandonSince(mark: number): number {
    let bytes = 0;
    for (const [b, n] of this.liveSet) {
      if (n <= mark) continue;
      const size = this.sizes.get(b) ?? 0;
      this.liveSet.delete(b);
      this.abandoned.add(b);
      this.inUseBytes -= size;
      this.allocatedBytes -= size;
      this.live--;
      bytes += size;
      this.hooks.onDestroy?.(b);
      b.destroy();
    }
    return bytes;
  }
}
