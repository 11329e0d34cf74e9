/**
 * What every export shares: the run it reads, the file names, and how our tensor names become
 * the names of the Hugging Face classification model a person loads in Python.
 */
import type { MethodId } from '../../methods/registry';
import type { AdapterSet } from '../../methods/types';
import { HEAD_MODULE } from '../../models/names';
import type { ModelSpec } from '../../models/spec';
import type { VisionTransformer } from '../../models/vision';

/** A trained run as the exporters see it; a Trainer is one. */
export interface ExportableRun {
  model: VisionTransformer;
  adapters: AdapterSet;
  config: {
    method: MethodId;
    methodConfig?: Record<string, unknown>;
    targets: readonly string[];
    seed: number;
  };
}

/** What the run does not know about itself. */
export interface ExportInfo {
  /** The Hub id or folder the run started from: PEFT's base_model_name_or_path. */
  baseModel: string;
  /** Class names in label-id order (id2label). */
  labels: readonly string[];
  /** The base model's preprocessor_config.json as read (Checkpoint.preprocessor.raw), if any. */
  preprocessor?: Record<string, unknown> | null;
  /** Module names of the PEFT adapter: transformers 5's (the default) or 4's; see PeftNaming. */
  peftNaming?: PeftNaming;
  /** A full CLIP's tokenizer files as loaded (Checkpoint.tokenizer): the merged export carries them, so CLIPProcessor loads beside CLIPModel. */
  tokenizer?: { json?: unknown; config?: unknown };
}

/**
 * Which transformers' module names a PEFT adapter uses. PEFT names adapter tensors after the
 * modules of the model in memory, and transformers 5 renamed ViT's and DeiT's (checkpoint files
 * keep the old names, converted on load):
 *   transformers 4: vit.encoder.layer.0.attention.attention.query, …attention.output.dense,
 *                   …intermediate.dense, …output.dense
 *   transformers 5: vit.layers.0.attention.q_proj, …attention.o_proj, …mlp.fc1, …mlp.fc2
 * CLIP's vision tower kept its names. PEFT matches target_modules against the in-memory names
 * and converts neither (checked with transformers 5.18.0 and PEFT 0.21.0), so an adapter loads
 * only with the transformers major version whose names it carries.
 */
export type PeftNaming = 'transformers5' | 'transformers4';
export const DEFAULT_PEFT_NAMING: PeftNaming = 'transformers5';

/** Files by relative name, ready for a folder or a zip. */
export type ExportFiles = Map<string, Uint8Array>;

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** Rankscope's own note beside an export (labels, training settings); PEFT ignores it. */
export const RUN_NOTE = 'rankscope_run.json';

/** PEFT's prefix for a PeftModel wrapping a transformers model (task_type None). */
export const PEFT_MODEL_PREFIX = 'base_model.model.';
/** Where PEFT keeps tuner-level (shared) tensors such as vera_A. */
export const PEFT_TUNER_PREFIX = 'base_model.';

export const HEAD_TENSORS = [`${HEAD_MODULE}.weight`, `${HEAD_MODULE}.bias`] as const;

/** The transformers class a classification checkpoint of this family loads as, and its module. */
export function classificationArchitecture(spec: Pick<ModelSpec, 'family'>): { name: string; library: string } {
  switch (spec.family) {
    case 'vit':
      return { name: 'ViTForImageClassification', library: 'transformers.models.vit.modeling_vit' };
    case 'deit':
      return { name: 'DeiTForImageClassification', library: 'transformers.models.deit.modeling_deit' };
    case 'clip':
      return { name: 'CLIPForImageClassification', library: 'transformers.models.clip.modeling_clip' };
  }
}

/**
 * The transformers class an adapter of this run loads onto. A zero-shot head classifies through
 * CLIP's joint embedding, which only CLIPModel has (CLIPForImageClassification's classifier reads
 * the pooled hidden state), so those runs load onto CLIPModel; the adapter keys are the same, since
 * both keep the vision tower under vision_model.
 */
export function adapterArchitecture(model: { spec: Pick<ModelSpec, 'family'>; zeroShot: boolean }): { name: string; library: string } {
  return model.zeroShot ? { name: 'CLIPModel', library: 'transformers.models.clip.modeling_clip' } : classificationArchitecture(model.spec);
}

/** Where the merged export keeps a zero-shot head's weight (logit_scale × class embeddings, classes × projection_dim). */
export const ZERO_SHOT_HEAD = 'zero_shot_head.weight';

/** Beside a zero-shot-head run's adapter: the head (logit_scale × class embeddings), which PEFT has no place for. */
export const ZERO_SHOT_HEAD_FILE = 'zero_shot_head.safetensors';

/** The backbone's prefix inside …ForImageClassification ('vit.', 'deit.', 'vision_model.'). */
function classificationPrefix(spec: Pick<ModelSpec, 'family'>): string {
  return spec.family === 'clip' ? 'vision_model.' : `${spec.family}.`;
}

/**
 * A tensor or module name of the loaded model under the classification model's naming. A bare
 * ViTModel / DeiTModel checkpoint has no 'vit.' prefix; the exported model has a head, so the
 * backbone moves under the prefix …ForImageClassification uses. The head keeps its name.
 */
export function classificationName(spec: Pick<ModelSpec, 'family' | 'prefix'>, name: string): string {
  if (name === HEAD_MODULE || name.startsWith(`${HEAD_MODULE}.`)) return name;
  const want = classificationPrefix(spec);
  if (spec.prefix === want) return name;
  if (spec.prefix && name.startsWith(spec.prefix)) return want + name.slice(spec.prefix.length);
  return want + name;
}

/** The inverse of `classificationName`: a classification-model name back to the loaded model's. */
export function loadedName(spec: Pick<ModelSpec, 'family' | 'prefix'>, name: string): string {
  if (name === HEAD_MODULE || name.startsWith(`${HEAD_MODULE}.`)) return name;
  const want = classificationPrefix(spec);
  if (spec.prefix === want || !name.startsWith(want)) return name;
  return spec.prefix + name.slice(want.length);
}

const V5_ROLES: ReadonlyArray<readonly [string, string]> = [
  ['attention.attention.query', 'attention.q_proj'],
  ['attention.attention.key', 'attention.k_proj'],
  ['attention.attention.value', 'attention.v_proj'],
  ['attention.output.dense', 'attention.o_proj'],
  ['intermediate.dense', 'mlp.fc1'],
  ['output.dense', 'mlp.fc2'],
];

/** A module of the loaded model as PEFT names it under the given transformers naming. */
export function peftModuleName(spec: Pick<ModelSpec, 'family' | 'prefix'>, module: string, naming: PeftNaming): string {
  const name = classificationName(spec, module);
  if (naming === 'transformers4' || spec.family === 'clip') return name;
  const m = /^(vit|deit)\.encoder\.layer\.(\d+)\.(.+)$/.exec(name);
  if (!m) return name;
  const role = V5_ROLES.find(([old]) => old === m[3]);
  return `${m[1]}.layers.${m[2]}.${role ? role[1] : m[3]}`;
}

/** A PEFT module name under either naming back to transformers 4's (checkpoint) naming. */
export function checkpointModuleName(name: string): string {
  const m = /^(vit|deit)\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) return name;
  const role = V5_ROLES.find(([, v5]) => v5 === m[3]);
  return `${m[1]}.encoder.layer.${m[2]}.${role ? role[0] : m[3]}`;
}

/** Whether PEFT keys use transformers 5's ViT/DeiT module names. */
export function usesTransformers5Names(keys: Iterable<string>): boolean {
  for (const k of keys) if (/(^|\.)(vit|deit)\.layers\.\d+\./.test(k)) return true;
  return false;
}

export function utf8Bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
