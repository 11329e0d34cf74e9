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
  private readonly pipelines = new Map<string, GPUComputePipeline>();
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
    const key = `${entryPoint}|${slots.map((s) => `${s.binding}:${s.kind}`).join(',')}|${code}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ code, label });
      pipeline = this.device.createComputePipeline({
        label,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [this.layout(slots)] }),
        compute: { module, entryPoint },
      });
      this.pipelines.set(key, pipeline);
      this.compiled++;
    }
    return pipeline;
  }

  get size(): number {
    return this.pipelines.size;
  }
}
