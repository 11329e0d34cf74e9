/** The kind of each binding in a kernel's group 0. */
export type BindingKind = 'uniform' | 'read' | 'write';

/** A binding slot: its number in `@binding(n)` and its kind. Numbers need not be contiguous. */
export interface BindingSlot {
  binding: number;
  kind: BindingKind;
}

/** The text key of a binding layout, e.g. "0u,1r,2w". */
export function slotsKey(slots: readonly BindingSlot[]): string {
  let key = '';
  for (const s of slots) key += `${key ? ',' : ''}${s.binding}${s.kind[0]}`;
  return key;
}

/** A compiled pipeline with its layout and the short ids the launch path keys bind groups by. */
export interface ResolvedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** Small integer naming the pipeline (code, entry point, layout) in this cache. */
  id: number;
}

/**
 * Compiles each specialised WGSL source once. Layouts are explicit rather than 'auto' because an
 * auto layout drops bindings a specialisation leaves unused, and the bind group would then fail.
 * The uniform block (binding 0 where present) has a dynamic offset: a batch's uniforms live in one
 * buffer, one aligned slice per launch.
 *
 * Keys are short: each distinct WGSL source is interned once to a small integer (the lookup by
 * the string hashes it once; V8 keeps a string's hash on the string, and ops hand over the same
 * instance every time through kernelCode's cache), and a pipeline is keyed "codeId|entry|layout".
 */
export class PipelineCache {
  private readonly codeIds = new Map<string, number>();
  private readonly pipelines = new Map<string, ResolvedPipeline>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  /** The short id of a WGSL source, given on first sight. */
  codeId(code: string): number {
    let id = this.codeIds.get(code);
    if (id === undefined) {
      id = this.codeIds.size + 1;
      this.codeIds.set(code, id);
    }
    return id;
  }

  layout(slots: readonly BindingSlot[], key = slotsKey(slots)): GPUBindGroupLayout {
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `layout(${key})`,
        entries: slots.map(({ binding, kind }) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer:
            kind === 'uniform'
              ? { type: 'uniform', hasDynamicOffset: true }
              : { type: kind === 'read' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  /** The pipeline for this code, entry point and layout (`layoutKey` = slotsKey(slots)), compiled on first use. */
  resolve(code: string, slots: readonly BindingSlot[], layoutKey: string, label: string, entryPoint = 'main'): ResolvedPipeline {
    const key = `${this.codeId(code)}|${entryPoint}|${layoutKey}`;
    let found = this.pipelines.get(key);
    if (!found) {
      const layout = this.layout(slots, layoutKey);
      const module = this.device.createShaderModule({ code, label });
      const pipeline = this.device.createComputePipeline({
        label,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint },
      });
      found = { pipeline, layout, id: this.pipelines.size + 1 };
      this.pipelines.set(key, found);
      this.compiled++;
    }
    return found;
  }

  get(code: string, slots: readonly BindingSlot[], label: string, entryPoint = 'main'): GPUComputePipeline {
    return this.resolve(code, slots, slotsKey(slots), label, entryPoint).pipeline;
  }

  get size(): number {
    return this.pipelines.size;
  }
}
