/**
 * Per-kernel GPU time from timestamp queries, where the device has the 'timestamp-query' feature.
 * Each compute pass writes a begin and an end timestamp; durations are summed per op name.
 */
export class GpuProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  /** One staging buffer per resolved batch: a batch may be resolved while the last one is still mapping. */
  private pendingRead: GPUBuffer | undefined;
  private labels: string[] = [];
  private readonly totals = new Map<string, { ns: number; count: number }>();

  static supported(device: GPUDevice): boolean {
    return device.features.has('timestamp-query');
  }

  constructor(
    private readonly device: GPUDevice,
    private readonly capacity = 512,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: capacity * 2, label: 'profiler' });
    const bytes = capacity * 2 * 8;
    this.resolveBuffer = device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: 'profiler-resolve',
    });
  }

  /** Timestamp writes for the next pass, or undefined once this batch is full (that pass goes untimed). */
  passWrites(op: string): GPUComputePassTimestampWrites | undefined {
    const i = this.labels.length;
    if (i >= this.capacity) return undefined;
    this.labels.push(op);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Resolves this batch's queries at the end of `encoder`; call `collect` after submitting it. */
  resolve(encoder: GPUCommandEncoder): boolean {
    const n = this.labels.length;
    if (n === 0) return false;
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuffer, 0);
    this.pendingRead = this.device.createBuffer({
      size: 2 * n * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: 'profiler-read',
    });
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, this.pendingRead, 0, 2 * n * 8);
    return true;
  }

  async collect(): Promise<void> {
    const labels = this.labels;
    const read = this.pendingRead;
    this.labels = [];
    this.pendingRead = undefined;
    if (labels.length === 0 || !read) return;
    await read.mapAsync(GPUMapMode.READ, 0, labels.length * 16);
    const stamps = new BigInt64Array(read.getMappedRange(0, labels.length * 16).slice(0));
    read.destroy();
    labels.forEach((op, i) => {
      const ns = Number(stamps[2 * i + 1] - stamps[2 * i]);
      const t = this.totals.get(op) ?? { ns: 0, count: 0 };
      // Timestamps may be quantised (a tiny pass reads 0) or, on some drivers, go backwards; clamp at 0.
      t.ns += Math.max(0, ns);
      t.count += 1;
      this.totals.set(op, t);
    });
  }

  report(): Array<{ op: string; ms: number; count: number }> {
    return [...this.totals.entries()]
      .map(([op, t]) => ({ op, ms: t.ns / 1e6, count: t.count }))
      .sort((a, b) => b.ms - a.ms);
  }

  reset(): void {
    this.totals.clear();
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    this.pendingRead?.destroy();
  }
}
