import { BindGroupCache } from './bindGroupCache';
import { BufferPool } from './bufferPool';
import { CHECK_EACH_LAUNCH_HINT, DeviceLostError, GpuOutOfMemoryError, GpuValidationError, type OpShapes } from './errors';
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

/** Bytes of the batch's uniform buffer: 512 launches at a 256-byte stride before a batch is cut. */
const UNIFORM_BYTES = 128 * 1024;

/**
 * Everything the engine needs from a device: pooled buffers, cached pipelines and bind groups,
 * batched command encoding, readback, error scopes, and optional timestamp profiling.
 *
 * The launch path is built to cost little host time, since a training step has hundreds of
 * launches: launches are recorded in one encoder and submitted together at `submit()` or at a
 * readback; consecutive dispatches share one compute pass; a batch's uniform blocks are copied
 * into one CPU-side array and written with one `writeBuffer` just before the batch is submitted
 * (into one buffer bound at a dynamic offset per launch); bind groups are cached per (pipeline
 * layout, buffers); pipelines are keyed by a short id. A batch is one error scope: an error
 * names the batch and its ops, and `checkEachLaunch` (one launch per batch) names the exact op.
 */
export class GpuContext {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly bindGroups: BindGroupCache;
  profiler: GpuProfiler | undefined;
  /** When set, each launch is submitted alone, so a validation error names the exact op (slower; for tests). */
  checkEachLaunch = false;
  private subgroups: boolean;
  /**
   * Mixed precision: frozen linear weights stored in f16 (packed pairs, read with the core
   * `unpack2x16float`), arithmetic in f32. On by default where the adapter has `shader-f16` (a
   * sign the GPU handles f16 data well), opt-in elsewhere. The trainer checks the logits against
   * the f32 path before a run keeps it (VisionTransformer.checkMixedPrecision).
   */
  mixedPrecision: boolean;
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private passPipeline: GPUComputePipeline | undefined;
  private batchOps: string[] = [];
  private batchShapes: OpShapes | undefined;
  private batches = 0;
  private readonly uniformAlign: number;
  private readonly uniformBuffer: GPUBuffer;
  private readonly uniformStaging = new Uint8Array(UNIFORM_BYTES);
  private uniformUsed = 0;
  private errors: Promise<Error | undefined>[] = [];
  private lostHandlers: Array<(e: DeviceLostError) => void> = [];
  lost: DeviceLostError | undefined;
  launches = 0;
  /** Compute passes begun: consecutive launches share one, so this stays far below `launches`. */
  passes = 0;
  /** Batches submitted (each is one error scope and one uniform write). */
  get batchCount(): number {
    return this.batches;
  }

  /**
   * `subgroups: false` keeps the plain workgroup-memory reductions even where the device has the
   * `subgroups` feature (the default is to use it where present); see `subgroupReductions`.
   * `mixedPrecision` forces mixed precision on or off; by default it is on where `shader-f16` is.
   */
  constructor(
    readonly device: GPUDevice,
    options: { subgroups?: boolean; mixedPrecision?: boolean } = {},
  ) {
    this.subgroups = (options.subgroups ?? true) && device.features.has('subgroups');
    this.mixedPrecision = options.mixedPrecision ?? device.features.has('shader-f16');
    this.bindGroups = new BindGroupCache(device);
    this.pool = new BufferPool(device, { onDestroy: (b) => this.bindGroups.forget(b), beforeTrim: () => this.submit() });
    this.pipelines = new PipelineCache(device);
    this.uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    this.uniformBuffer = device.createBuffer({
      size: UNIFORM_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'batch-uniforms',
    });
    void device.lost.then((info) => {
      // destroy() on purpose is not a loss a person needs to hear about.
      if (info.reason === 'destroyed') return;
      this.lost = new DeviceLostError(info.reason ?? 'unknown', info.message);
      for (const h of this.lostHandlers) h(this.lost);
    });
  }

  /**
   * Whether the row reductions of layernorm and cross-entropy use subgroup operations
   * (subgroupAdd / subgroupMax, then one workgroup-memory pass across subgroups) instead of a
   * barrier-per-level tree. Only ever true on a device with the `subgroups` feature; setting it
   * true elsewhere leaves it false. Tests flip it to run both paths on one device.
   */
  get subgroupReductions(): boolean {
    return this.subgroups;
  }

  set subgroupReductions(on: boolean) {
    this.subgroups = on && this.device.features.has('subgroups');
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

  /** Frees a buffer's memory for good (not kept for reuse), after the work recorded so far is submitted. */
  discard(buffer: GPUBuffer): void {
    this.submit();
    this.pool.discard(buffer);
  }

  upload(buffer: GPUBuffer, data: ArrayBufferView, offsetBytes = 0): void {
    // writeBuffer lands on the queue at once, ahead of launches still waiting in the encoder; a
    // pooled buffer may be read by one of those, so they must be submitted first.
    this.submit();
    this.device.queue.writeBuffer(buffer, offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * The batch's encoder, opened with the batch's error scopes on first use: every device call up
   * to the batch's submit (pipeline compilation, bind groups, encoding, the submit) reports there.
   */
  private batchEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope('out-of-memory');
      this.device.pushErrorScope('validation');
      this.encoder = this.device.createCommandEncoder({ label: 'rankscope-batch' });
    }
    return this.encoder;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = undefined;
      this.passPipeline = undefined;
    }
  }

  launch(k: KernelLaunch): void {
    if (this.lost) throw this.lost;
    let offset = -1;
    let uniformSize = 0;
    if (k.uniforms) {
      const data = k.uniforms instanceof ArrayBuffer ? new Uint8Array(k.uniforms) : new Uint8Array(k.uniforms.buffer, k.uniforms.byteOffset, k.uniforms.byteLength);
      // Bound size as the pool's 256-byte buckets gave before: a block is never bound short of its struct.
      uniformSize = Math.ceil(Math.max(16, data.byteLength) / this.uniformAlign) * this.uniformAlign;
      if (uniformSize > UNIFORM_BYTES) throw new Error(`GpuContext.launch: "${k.op}" has a ${data.byteLength}-byte uniform block; at most ${UNIFORM_BYTES} bytes fit`);
      if (this.uniformUsed + uniformSize > UNIFORM_BYTES) this.submit();
      offset = this.uniformUsed;
      this.uniformStaging.set(data, offset);
      this.uniformUsed += uniformSize;
    }
    const encoder = this.batchEncoder();
    // Slots, entries, the layout key and the bind group key in one pass over the bindings.
    const slots: BindingSlot[] = [];
    const entries: GPUBindGroupEntry[] = [];
    const ids: number[] = [];
    let layoutKey = '';
    let groupKey = '';
    let next = 0;
    if (offset >= 0) {
      slots.push({ binding: 0, kind: 'uniform' });
      entries.push({ binding: 0, resource: { buffer: this.uniformBuffer, offset: 0, size: uniformSize } });
      layoutKey = '0u';
      groupKey = `u${uniformSize}`;
      next = 1;
    }
    for (const b of k.bindings) {
      const binding = b.binding ?? next;
      next = binding + 1;
      const id = this.bindGroups.id(b.buffer);
      entries.push({ binding, resource: { buffer: b.buffer } });
      slots.push({ binding, kind: b.access });
      ids.push(id);
      layoutKey += `${layoutKey ? ',' : ''}${binding}${b.access[0]}`;
      groupKey += `,${id}`;
    }
    const [x, y = 1, z = 1] = k.workgroups;
    const { pipeline, layout } = this.pipelines.resolve(k.code, slots, layoutKey, k.op, k.entryPoint ?? 'main');
    // Keyed by layout, not pipeline: a group fits every pipeline of the same layout.
    const bindGroup = this.bindGroups.get(`${layoutKey}|${groupKey}`, layout, entries, ids, k.op);
    const timestampWrites = this.profiler?.passWrites(k.op);
    // A timed launch gets its own pass: timestamps are written per pass.
    if (timestampWrites) this.endPass();
    if (!this.pass) {
      this.pass = encoder.beginComputePass({ label: timestampWrites ? k.op : 'rankscope-pass', timestampWrites });
      this.passes++;
    }
    const pass = this.pass;
    if (this.passPipeline !== pipeline) {
      pass.setPipeline(pipeline);
      this.passPipeline = pipeline;
    }
    if (offset >= 0) pass.setBindGroup(0, bindGroup, [offset]);
    else pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (timestampWrites) this.endPass();
    this.batchOps.push(k.op);
    if (this.batchOps.length === 1) this.batchShapes = k.shapes;
    this.launches++;
    if (this.checkEachLaunch) this.submit();
  }

  /** Encodes zero-filling of a buffer range in the current batch. */
  clear(buffer: GPUBuffer, offset = 0, bytes?: number): void {
    const encoder = this.batchEncoder();
    this.endPass();
    encoder.clearBuffer(buffer, offset, bytes);
  }

  /** Encodes a buffer copy in the current batch, in order with the launches around it. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    const encoder = this.batchEncoder();
    this.endPass();
    encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  submit(): void {
    if (!this.encoder) return;
    this.endPass();
    const encoder = this.encoder;
    this.encoder = undefined;
    const ops = this.batchOps;
    const shapes = this.batchShapes;
    this.batchOps = [];
    this.batchShapes = undefined;
    this.batches++;
    const profiled = this.profiler?.resolve(encoder) ?? false;
    // The uniforms go in just ahead of the batch that reads them: queue operations run in order,
    // so the previous batch has read its own by then, and one buffer serves every batch.
    if (this.uniformUsed > 0) {
      this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformStaging.buffer, 0, this.uniformUsed);
      this.uniformUsed = 0;
    }
    this.device.queue.submit([encoder.finish()]);
    const validation = this.device.popErrorScope();
    const memory = this.device.popErrorScope();
    const single = ops.length === 1;
    const label = single ? ops[0] : batchLabel(this.batches, ops);
    const hint = single ? '' : CHECK_EACH_LAUNCH_HINT;
    this.errors.push(
      Promise.all([validation, memory]).then(([v, m]) => {
        if (v) return new GpuValidationError(label, single ? shapes : undefined, v.message, hint);
        if (m) return new GpuOutOfMemoryError(label, single ? shapes : undefined, m.message, hint);
        return undefined;
      }),
    );
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
    this.bindGroups.clear();
    this.uniformBuffer.destroy();
    this.pool.trim();
    this.device.destroy();
  }
}

/** "batch #12 of 40 launches (matmul ×20, layernorm ×4, …)": which ops a batch's error may come from. */
export function batchLabel(n: number, ops: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const op of ops) counts.set(op, (counts.get(op) ?? 0) + 1);
  const parts = [...counts].map(([op, c]) => (c > 1 ? `${op} ×${c}` : op));
  return `batch #${n} of ${ops.length} launches (${parts.join(', ')})`;
}
