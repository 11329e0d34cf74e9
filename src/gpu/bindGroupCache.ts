/**
 * Bind groups made once per (layout, buffers) and reused across steps. Creating a bind group is a
 * call into the driver at every launch; the pool hands out the same buffers at every step after
 * the first, so nearly every launch after step 1 finds its group here.
 *
 * Buffers are named by a small integer given the first time they are seen, so a key is a short
 * string of numbers. A group must never outlive one of its buffers: `forget(buffer)` (called by the
 * pool when it destroys a buffer) drops every group that binds it.
 */
export class BindGroupCache {
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  private readonly groups = new Map<string, GPUBindGroup>();
  /** Keys of the groups that bind each buffer id, so destroying a buffer drops exactly those. */
  private readonly byBuffer = new Map<number, string[]>();
  created = 0;
  hits = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Past this many groups the cache starts over: it bounds what buffers destroyed outside the pool can hold on to. */
    private readonly capacity = 50_000,
  ) {}

  id(buffer: GPUBuffer): number {
    let id = this.ids.get(buffer);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(buffer, id);
    }
    return id;
  }

  /**
   * The group for `layoutId` and these entries; `key` must already name the layout, each entry's
   * binding, buffer id and bound size (the caller builds it while collecting the entries).
   */
  get(key: string, layout: GPUBindGroupLayout, entries: GPUBindGroupEntry[], bufferIds: readonly number[], label: string): GPUBindGroup {
    const found = this.groups.get(key);
    if (found) {
      this.hits++;
      return found;
    }
    if (this.groups.size >= this.capacity) this.clear();
    const group = this.device.createBindGroup({ layout, entries, label });
    this.groups.set(key, group);
    for (const id of bufferIds) {
      let keys = this.byBuffer.get(id);
      if (!keys) this.byBuffer.set(id, (keys = []));
      keys.push(key);
    }
    this.created++;
    return group;
  }

  /** Drops every group that binds `buffer` (it is about to be destroyed, or was). */
  forget(buffer: GPUBuffer): void {
    const id = this.ids.get(buffer);
    if (id === undefined) return;
    const keys = this.byBuffer.get(id);
    if (!keys) return;
    this.byBuffer.delete(id);
    for (const k of keys) this.groups.delete(k);
  }

  clear(): void {
    this.groups.clear();
    this.byBuffer.clear();
  }

  get size(): number {
    return this.groups.size;
  }
}
