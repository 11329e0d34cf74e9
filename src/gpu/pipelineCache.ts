/** The kind of each binding in a kernel's group 0. */
export type BindingKind = 'uniform' | 'read' | 'write';

/** A binding slot: its number in `@binding(n)` and its kind. Numbers need not be contiguous. */
export interface BindingSlot {
  binding: number;
  kind: BindingKind;
}

/**
 * Compiles each specialised WGSL source once. Layouts are explicit rather than 'auto' because an
 * auto layout drops bindings a specialisation leaves unused, and the bind group would then fail.
 */
export class PipelineCache {
  /**
   * By code, then by entry point and layout. Ops pass the same specialised string instance every
   * time (kernelCode's cache), whose hash the engine keeps, so a lookup never re-reads a shader's
   * text; concatenating the code into one key would hash the whole source at every launch.
   */
  private readonly pipelines = new Map<string, Map<string, GPUComputePipeline>>();
  private count = 0;
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  layout(slots: readonly BindingSlot[]): GPUBindGroupLayout {
    const key = slots.map((s) => `${s.binding}:${s.kind}`).join(',');
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `layout(${key})`,
        entries: slots.map(({ binding, kind }) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  get(code: string, slots: readonly BindingSlot[], label: string, entryPoint = 'main'): GPUComputePipeline {
    let byLayout = this.pipelines.get(code);
    if (!byLayout) this.pipelines.set(code, (byLayout = new Map()));
    const key = `${entryPoint}|${slots.map((s) => `${s.binding}:${s.kind}`).join(',')}`;
    let pipeline = byLayout.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ code, label });
      pipeline = this.device.createComputePipeline({
        label,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [this.layout(slots)] }),
        compute: { module, entryPoint },
      });
      byLayout.set(key, pipeline);
      this.compiled++;
      this.count++;
    }
    return pipeline;
  }

  get size(): number {
    return this.count;
  }
}
