/**
 * The one interface every method implements, in the way PEFT keeps one folder per tuner. A method
 * is two halves: `config.ts`, pure data the page, the estimate, the CLI and the exports read
 * without touching the GPU, and a runtime (`runtime.ts`: layers on the GPU, PEFT's format) that
 * `config.runtime()` loads only where training happens (worker, Node).
 *
 * Only type imports from the engine here: this file ends up in the page's main bundle.
 */
import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../engine/tensor';
import type { BenchSetup } from './benchTypes';

/** A linear layer (W: out × in) that a method attaches to, named by its Hugging Face module path. */
export interface TargetLayer {
  module: string;
  out: number;
  in: number;
  /**
   * The layer's frozen weight W0 (out × in) and bias on the GPU, for a method whose update depends
   * on them (DoRA's magnitude and norm). Absent where only shapes are known (the estimate).
   */
  base?: { weight: Tensor; bias?: Tensor };
}

/** One setting a person edits in the method panel (and a link or the CLI's --set carries). */
export interface FieldSpec {
  key: string;
  label: string;
  help: string;
  kind: 'int' | 'float' | 'bool' | 'choice';
  min?: number;
  /** The value must be above `min`, not equal to it. */
  above?: boolean;
  max?: number;
  /** The value must be below `max`, not equal to it. */
  below?: boolean;
  choices?: Array<{ value: string; label: string }>;
}

/** How a method's adapter leaves Rankscope. */
export type ExportSpec =
  /** PEFT's adapter_config.json + adapter_model.safetensors; `match` tells this method's files from others of the same peft_type. */
  | { kind: 'peft'; peftType: string; match?: Readonly<Record<string, unknown>>; tooltip: string }
  /** A format of the method's own (NOLA): `configFile` identifies it on import. */
  | { kind: 'own'; configFile: string; weightsFile: string; tooltip: string }
  /** No adapter (full fine-tuning, the probe): the merged model is the export. */
  | { kind: 'none' };

/** Everything about a method that is data: read by the page, the estimate, the CLI, studies and exports. */
export interface MethodConfig<Config extends object = object, Id extends string = string> {
  id: Id;
  label: string;
  /** One sentence on what the method trains, shown beside it in the UI. */
  summary: string;
  /** The method's defaults (PEFT's or the paper's). */
  defaults: Config;
  /** The settings a person edits, keys of `defaults`, with help and ranges. */
  fields: readonly FieldSpec[];
  /** What the method panel says instead of settings, for a method with none. */
  noSettingsNote?: string;
  /** Whether the method attaches to target modules (false for full fine-tuning and the probe). */
  usesTargets: boolean;
  /** Whether the backbone's own weights train (full fine-tuning). */
  trainsBackbone: boolean;
  /** Trainable parameters added across `layers` (the classification head and a trained backbone excluded). */
  countParams(config: Config, layers: readonly TargetLayer[]): number;
  /** Frozen values the method keeps on the GPU besides the model (shared random bases), for the memory estimate. */
  frozenFloats(config: Config, layers: readonly TargetLayer[]): number;
  /**
   * Values the method holds per step beyond activations, at most: W + ΔW or ΔW (out × in) per
   * adapted layer from forward to backward, for a method with a merged or dense route. Absent: none.
   */
  stepFloats?(config: Config, layers: readonly TargetLayer[]): number;
  /** The largest rank ΔW can reach on `layer`, given all targeted layers (shared bases depend on them). */
  maxRank(config: Config, layer: TargetLayer, layers: readonly TargetLayer[]): number;
  /** The settings the generic knobs map to: `--rank`/`--alpha` on the CLI, and studies. */
  knobs: { rank?: keyof Config & string; scale?: keyof Config & string };
  /**
   * The one setting a study turns to meet a trainable-parameter budget (LoRA's r, RandLoRA's r,
   * VeRA's r, NOLA's k); absent for methods whose count is fixed (full fine-tuning, the probe).
   */
  budget?: BudgetKnob<Config>;
  /** The method's part of a run's name, e.g. "r=8" (empty when it has no setting worth naming). */
  runName(config: Config): string;
  /** Its peak learning rate in the one-click comparison (LoRA vs RandLoRA vs full fine-tuning); in it only when set. */
  comparisonLr?: number;
  /** Its peak learning rate in a study when it differs from `comparisonLr` (or the adapters' 5e-3). */
  studyLr?: number;
  export: ExportSpec;
  /** Loads the GPU half. Lazy, so the page's main bundle holds no kernels. */
  runtime(): Promise<{ default: MethodRuntime<Config> }>;
  /** Loads its setup for the methods benchmark (bench/methods.ts), where it has one. */
  bench?: () => Promise<{ default: BenchSetup }>;
}

/** How a study moves a method's trainable count: one integer setting over a range. */
export interface BudgetKnob<Config extends object> {
  /** The name a study shows for the setting, as in "r=4" or "k=64". */
  label: string;
  /** The smallest and largest values worth trying on these layers (inclusive). */
  range(layers: readonly TargetLayer[]): readonly [number, number];
  /** The settings with the knob at `value` (and whatever moves with it, e.g. NOLA's ka = kb). */
  apply(config: Config, value: number): Config;
  /** The knob's value in `config`. */
  value(config: Config): number;
}

/** A trainable tensor of an adapter, with the name PEFT gives it under the layer's module path. */
export interface Trainable {
  /** e.g. "lora_A.weight", "randlora_lambda", "vera_lambda_b", "nola_alpha". */
  key: string;
  tensor: Tensor;
  /** AdamW weight decay applies to this tensor (false for scalings and biases). */
  decay: boolean;
}

/**
 * What a layer's forward keeps for its backward. `x` is the layer input (owned by the model's
 * tape); `owned` are tensors the forward made, which the tape releases when it is cleared.
 */
export interface Saved {
  x: Tensor;
  owned: readonly Tensor[];
}

/** One adapted linear layer: its update ΔW (scaling included) applied without changing W. */
export interface LayerAdapter<S extends Saved = Saved> {
  module: string;
  shape: TargetLayer;
  trainables: Trainable[];
  /** y += x·ΔWᵀ for x (N × in), y (N × out); returns what `backward` needs. */
  forward(x: Tensor, y: Tensor): S;
  /**
   * True when `forward` reads y as exactly x·W0ᵀ + b and rescales it (DoRA's magnitude) instead of
   * only adding to it: the model then keeps anything else out of y, such as a residual add fused
   * into the GEMM's epilogue.
   */
  rescalesOutput?: boolean;
  /**
   * Gradients of the trainables (same order as `trainables`, new tensors the caller releases),
   * and dx += dY·ΔW when dx is given (left out when nothing below needs a gradient).
   */
  backward(saved: S, dY: Tensor, opts: { dx?: Tensor }): Tensor[];
  /** W + ΔW, a new tensor. */
  merge(W: Tensor): Tensor;
  /**
   * The merged route, offered by a method with a dense update (RandLoRA, VeRA) where, for x's
   * rows, it costs fewer multiply-adds than applying ΔW beside W: W + ΔW (out × in, f32, a new
   * tensor also listed in `saved.owned`) for the layer's own forward and input-gradient GEMMs,
   * with what `backward` needs. The model then does not call `forward`, and calls `backward`
   * without dx: dY·(W + ΔW) already holds dY·ΔW. Undefined where the separate route is cheaper.
   */
  forwardMerged?(x: Tensor, W: Tensor): { weight: Tensor; saved: S } | undefined;
}

/** Everything a method made for one model: frozen shared bases and one adapter per target layer. */
export interface AdapterSet {
  method: string;
  layers: Map<string, LayerAdapter>;
  /** Frozen tensors shared across layers (random bases), exported with save_projection. */
  shared: Map<string, Tensor>;
  /** Whether the backbone's own weights train (full fine-tuning). */
  trainsBackbone: boolean;
  /**
   * Whether the adapters read the frozen weights themselves (DoRA's norms of W0 + s·B·A), in f32:
   * mixed precision then keeps those weights in f32.
   */
  readsFrozenWeights?: boolean;
  release(): void;
}

/** Reads one field of a PEFT adapter_config.json, with a default, or fails naming the file. */
export type PeftField = (key: string, fallback?: number) => number;

/** A method's part of PEFT's adapter_config.json, both ways (src/io/peft does the rest). */
export interface PeftSpec<Config extends object> {
  /** Fields this method writes besides the common ones (peft_type, target_modules, …). */
  fields(config: Config, seed: number): Record<string, unknown>;
  /** Fields PEFT keeps as Python floats (JSON cannot tell 0.0 from 0). */
  floatFields: readonly string[];
  /** The settings back from a file's fields. */
  fromFields(config: Record<string, unknown>, number: PeftField): Config;
  /** Whether the run's seed is recorded (projection_prng_key) and must match on import. */
  seeded: boolean;
  /** The keys of each layer's tensors (Trainable.key), by which an import finds a key's layer. */
  layerKeys: readonly string[];
  /** Frozen tensors saved once at tuner level (save_projection), keys of AdapterSet.shared. */
  sharedKeys: readonly string[];
  /** adapter_config.json options the import refuses in general but this method implements. */
  implements?: readonly string[];
}

/** A method's own export format (NOLA). `common` holds the fields every export carries. */
export interface OwnFormat<Config extends object> {
  floatFields: readonly string[];
  configObject(set: AdapterSet, config: Config, seed: number, moduleName: (module: string) => string, common: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** The file back into settings, seed and targets; throws a message naming the file when it cannot. */
  read(config: Record<string, unknown>, file: string): { config: Config; seed: number; targets: string[] };
  /** Checks, before upload, that the run rebuilds the bases the file was trained with. */
  verify?(set: AdapterSet, config: Config, seed: number, file: Record<string, unknown>, moduleName: (module: string) => string, source: string): Promise<void>;
  readme(info: { arch: string; labels: readonly string[] }): string;
}

/** The GPU half of a method. */
export interface MethodRuntime<Config extends object> {
  /** Builds the method's tensors on the GPU, seeded so a run can be repeated exactly. */
  create(ctx: GpuContext, config: Config, layers: readonly TargetLayer[], seed: number): AdapterSet;
  peft?: PeftSpec<Config>;
  own?: OwnFormat<Config>;
}
