import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../engine/tensor';

export type MethodId = 'lora' | 'randlora' | 'nola' | 'vera' | 'full' | 'probe';

/** A linear layer (W: out × in) that a method attaches to, named by its Hugging Face module path. */
export interface TargetLayer {
  module: string;
  out: number;
  in: number;
}

/** A trainable tensor of an adapter, with the name PEFT gives it under the layer's module path. */
export interface Trainable {
  /** e.g. "lora_A.weight", "randlora_lambda", "vera_lambda_b", "nola_alpha". */
  key: string;
  tensor: Tensor;
  /** AdamW weight decay applies to this tensor (false for scalings and biases). */
  decay: boolean;
}

/** One adapted linear layer: its update ΔW (scaling included) applied without changing W. */
export interface LayerAdapter {
  module: string;
  shape: TargetLayer;
  trainables: Trainable[];
  /** y += x·ΔWᵀ for x (N × in), y (N × out). */
  forward(x: Tensor, y: Tensor): void;
  /**
   * Gradients of the trainables (same order as `trainables`, new tensors the caller releases),
   * and dx += dY·ΔW when dx is given (skipped when nothing below needs a gradient).
   */
  backward(x: Tensor, dY: Tensor, dx: Tensor | undefined): Tensor[];
  /** W + ΔW, a new tensor. */
  merge(W: Tensor): Tensor;
}

/** Everything a method made for one model: frozen shared bases and one adapter per target layer. */
export interface AdapterSet {
  method: MethodId;
  layers: Map<string, LayerAdapter>;
  /** Frozen tensors shared across layers (random bases), exported with save_projection. */
  shared: Map<string, Tensor>;
  /** Whether the backbone's own weights train (full fine-tuning). */
  trainsBackbone: boolean;
  release(): void;
}

/** The one interface every method implements, in the way PEFT keeps one folder per tuner. */
export interface Method<Config extends object> {
  id: MethodId;
  label: string;
  /** One sentence on what the method trains, shown beside it in the UI. */
  summary: string;
  defaults: Config;
  /** Whether the method attaches to target modules (false for full fine-tuning and the probe). */
  usesTargets: boolean;
  /** Trainable parameters added across `layers` (the classification head excluded). */
  countParams(config: Config, layers: readonly TargetLayer[]): number;
  /** The largest rank ΔW can reach on `layer`, given all targeted layers (shared bases depend on them). */
  maxRank(config: Config, layer: TargetLayer, layers: readonly TargetLayer[]): number;
  /** Builds the method's tensors on the GPU, seeded so a run can be repeated exactly. */
  create(ctx: GpuContext, config: Config, layers: readonly TargetLayer[], seed: number): AdapterSet;
}
