import { BufferPool } from './bufferPool';
import { DeviceLostError, GpuOutOfMemoryError, GpuValidationError, type OpShapes } from './errors';
import { PipelineCache, type BindingSlot } from './pipelineCache';
import { GpuProfiler } from './profiler';

export interface Binding {
  buffer: GPUBuffer;
  /** 'read' binds read-only storage; 'write' binds read-write storage. */
  access: 'read' | 'write';
  /** The `@binding(n)` number; by default the next after the previous entry. */
  binding?: number;
}

/** One kernel launch. Binding 0 is the uniform block when `uniforms` is given; storage buffers follow in order. */
export interface KernelLaunch {
  op: string;
  shapes?: OpShapes;
  code: string;
  entryPoint?: string;
  uniforms?: ArrayBuffer | ArrayBufferView;
  bindings: Binding[];
  workgroups: readonly [number, number?, number?];
}

// Read lazily: under Node the GPU* globals exist only once the webgpu package has installed them.
const storageUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * Everything the engine needs from a device: pooled buffers, cached pipelines, batched command
 * encoding, readback, error scopes that name the op, and optional timestamp profiling.
 * Launches are recorded in one encoder and submitted together at `submit()` or at a readback.
 */
export class GpuContext {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  profiler: GpuProfiler | undefined;
  /** When set, each launch is submitted alone, so a validation error names the exact op (slower; for tests). */
  checkEachLaunch = false;
  private encoder: GPUCommandEncoder | undefined;
  private pendingUniforms: GPUBuffer[] = [];
  private batchOps: string[] = [];
  private errors: Promise<Error | undefined>[] = [];
  private lostHandlers: Array<(e: DeviceLostError) => void> = [];
  lost: DeviceLostError | undefined;
  launches = 0;

  constructor(readonly device: GPUDevice) {
    this.pool = new BufferPool(device);
    this.pipelines = new PipelineCache(device);
    void device.lost.then((info) => {
      // destroy() on purpose is not a loss a person needs to hear about.
      if (info.reason === 'destroyed') return;
      this.lost = new DeviceLostError(info.reason ?? 'unknown', info.message);
      for (const h of this.lostHandlers) h(this.lost);
    });
  }

  onDeviceLost(handler: (e: DeviceLostError) => void): () => void {
    this.lostHandlers.push(handler);
    return () => {
      this.lostHandlers = this.lostHandlers.filter((h) => h !== handler);
    };
  }

  enableProfiling(): boolean {
    if (!this.profiler && GpuProfiler.supported(this.device)) this.profiler = new GpuProfiler(this.device);
    return this.profiler !== undefined;
  }

  /** A storage buffer from the pool; give it back with `release` when its contents are dead. */
  buffer(bytes: number, label?: string): GPUBuffer {
    return this.pool.acquire(bytes, storageUsage(), label);
  }

  release(buffer: GPUBuffer): void {
    this.pool.release(buffer);
  }

  upload(buffer: GPUBuffer, data: ArrayBufferView, offsetBytes = 0): void {
    // writeBuffer lands on the queue at once, ahead of launches still waiting in the encoder; a
    // pooled buffer may be read by one of those, so they must be submitted first.
    this.submit();
    this.device.queue.writeBuffer(buffer, offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  private scoped(op: string, shapes: OpShapes | undefined, action: () => void): void {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    action();
    const validation = this.device.popErrorScope();
    const memory = this.device.popErrorScope();
    this.errors.push(
      Promise.all([validation, memory]).then(([v, m]) => {
        if (v) return new GpuValidationError(op, shapes, v.message);
        if (m) return new GpuOutOfMemoryError(op, shapes, m.message);
        return undefined;
      }),
    );
  }

  launch(k: KernelLaunch): void {
    if (this.lost) throw this.lost;
    const slots: BindingSlot[] = [];
    const entries: GPUBindGroupEntry[] = [];
    let next = 0;
    if (k.uniforms) {
      const data = k.uniforms instanceof ArrayBuffer ? new Uint8Array(k.uniforms) : k.uniforms;
      const ub = this.pool.acquire(data.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `${k.op}-uniforms`);
      // Safe to write now: this buffer belongs to this launch alone until the batch is submitted.
      this.device.queue.writeBuffer(ub, 0, data.buffer, data.byteOffset, data.byteLength);
      this.pendingUniforms.push(ub);
      slots.push({ binding: 0, kind: 'uniform' });
      entries.push({ binding: 0, resource: { buffer: ub } });
      next = 1;
    }
    for (const b of k.bindings) {
      const binding = b.binding ?? next;
      next = binding + 1;
      entries.push({ binding, resource: { buffer: b.buffer } });
      slots.push({ binding, kind: b.access });
    }
    const [x, y = 1, z = 1] = k.workgroups;
    this.scoped(k.op, k.shapes, () => {
      const pipeline = this.pipelines.get(k.code, slots, k.op, k.entryPoint ?? 'main');
      const bindGroup = this.device.createBindGroup({ layout: this.pipelines.layout(slots), entries, label: k.op });
      this.encoder ??= this.device.createCommandEncoder({ label: 'rankscope-batch' });
      const pass = this.encoder.beginComputePass({ label: k.op, timestampWrites: this.profiler?.passWrites(k.op) });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
    });
    this.batchOps.push(k.op);
    this.launches++;
    if (this.checkEachLaunch) this.submit();
  }

  /** Encodes zero-filling of a buffer range in the current batch. */
  clear(buffer: GPUBuffer, offset = 0, bytes?: number): void {
    this.encoder ??= this.device.createCommandEncoder({ label: 'rankscope-batch' });
    this.encoder.clearBuffer(buffer, offset, bytes);
  }

  /** Encodes a buffer copy in the current batch, in order with the launches around it. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.encoder ??= this.device.createCommandEncoder({ label: 'rankscope-batch' });
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  submit(): void {
    if (!this.encoder) return;
    const encoder = this.encoder;
    this.encoder = undefined;
    const ops = this.batchOps;
    this.batchOps = [];
    const profiled = this.profiler?.resolve(encoder) ?? false;
    const label = ops.length === 1 ? ops[0] : `batch of ${ops.length} kernels (${[...new Set(ops)].join(', ')})`;
    this.scoped(label, undefined, () => this.device.queue.submit([encoder.finish()]));
    for (const ub of this.pendingUniforms) this.pool.release(ub);
    this.pendingUniforms = [];
    // Resolve to the error rather than reject: flush awaits these only after the queue drains,
    // and a rejection left waiting that long would be reported as unhandled.
    if (profiled) this.errors.push(this.profiler!.collect().then(() => undefined, (e: unknown) => e as Error));
  }

  /** Submits pending work, waits for the GPU, and throws the first error any launch raised. */
  async flush(): Promise<void> {
    this.submit();
    await this.device.queue.onSubmittedWorkDone();
    const errors = this.errors;
    this.errors = [];
    const found = (await Promise.all(errors)).find((e) => e !== undefined);
    if (found) throw found;
    if (this.lost) throw this.lost;
  }

  /** Copies `bytes` from a GPU buffer back to the CPU (submits pending work first). */
  async read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const staging = this.pool.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback');
    this.copy(buffer, offset, staging, 0, bytes);
    await this.flush();
    await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    const out = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    this.pool.release(staging);
    return out;
  }

  async readF32(buffer: GPUBuffer, length: number, offset = 0): Promise<Float32Array> {
    return new Float32Array(await this.read(buffer, length * 4, offset * 4));
  }

  destroy(): void {
    this.profiler?.destroy();
    this.pool.trim();
    this.device.destroy();
  }
}
