/**
 * What the engine needs to know about a vision transformer, read from a Hugging Face config.json.
 * ViT and DeiT share one layout; CLIP's vision tower differs in names, a pre-layernorm, no patch
 * bias, quick_gelu, and (in a full CLIPModel) a nested vision_config.
 */
export type Family = 'vit' | 'deit' | 'clip';
export type HiddenAct = 'gelu' | 'quick_gelu';

export interface ModelSpec {
  family: Family;
  /** The architecture named in config.json (or the one we assume), e.g. ViTForImageClassification. */
  architecture: string;
  /** Prefix of the backbone's tensor names: 'vit.', 'deit.', 'vision_model.' or '' for a bare ViTModel. */
  prefix: string;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  imageSize: number;
  patchSize: number;
  channels: number;
  eps: number;
  act: HiddenAct;
  qkvBias: boolean;
  patchBias: boolean;
  preLayernorm: boolean;
  /** DeiT distilled checkpoints carry a second token after CLS. */
  distillationToken: boolean;
  /** How the classification head reads the sequence: CLS after the final layernorm (ViT), or the mean of patch tokens (HF's CLIPForImageClassification). */
  pooling: 'cls' | 'mean_patches';
  /** CLIPVisionModelWithProjection / CLIPModel: size of visual_projection, which we load but do not use for classification. */
  projectionDim: number | undefined;
  /** Classes of the checkpoint's own head, if it has one (id2label order). */
  labels: string[] | undefined;
  /** Whether the checkpoint holds a classification head (classifier.weight). */
  hasHead: boolean;
  /** The raw config, kept so exports can write it back with new labels. */
  raw: Record<string, unknown>;
}

export function patchesPerSide(spec: ModelSpec): number {
  return Math.floor(spec.imageSize / spec.patchSize);
}

/** Sequence length: patches plus CLS (and the distillation token for DeiT distilled models). */
export function tokenCount(spec: ModelSpec): number {
  return patchesPerSide(spec) ** 2 + 1 + (spec.distillationToken ? 1 : 0);
}

const VIT_ARCHS = ['ViTModel', 'ViTForImageClassification'];
const DEIT_ARCHS = ['DeiTModel', 'DeiTForImageClassification', 'DeiTForImageClassificationWithTeacher'];
const CLIP_ARCHS = ['CLIPModel', 'CLIPVisionModel', 'CLIPVisionModelWithProjection', 'CLIPForImageClassification'];

/** CLIPVisionConfig's defaults (openai/clip-vit-base-patch32), for values a saved diff leaves out. */
const CLIP_VISION_DEFAULTS = { hidden_size: 768, num_attention_heads: 12, num_hidden_layers: 12, intermediate_size: 3072 } as const;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function num(o: Record<string, unknown>, key: string, file: string, fallback?: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ConfigError(`${file}: "${key}" is missing or not a number (got ${JSON.stringify(o[key])}).`);
  }
  return v;
}

/**
 * A size in config.json: a whole number from 1 up to `max`. The caps are far above any ViT or CLIP
 * (ViT-g has 40 layers and width 1408) and keep a damaged config from asking for billions of layers.
 */
function size(o: Record<string, unknown>, key: string, file: string, max: number, fallback?: number): number {
  const v = num(o, key, file, fallback);
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new ConfigError(`${file}: "${key}" must be a whole number from 1 to ${max}, got ${v}. Fix config.json or re-download the checkpoint.`);
  }
  return v;
}

function labelsOf(o: Record<string, unknown>): string[] | undefined {
  const id2label = o.id2label as Record<string, string> | undefined;
  if (!id2label || typeof id2label !== 'object') return undefined;
  const entries = Object.entries(id2label).map(([k, v]) => [Number(k), String(v)] as const);
  if (!entries.length || entries.some(([k]) => !Number.isInteger(k))) return undefined;
  const out: string[] = [];
  for (const [k, v] of entries) out[k] = v;
  return out.length === entries.length ? out : undefined;
}

/** Parses a Hugging Face config.json (already JSON-decoded). `file` names it in error messages. */
export function parseConfig(rawConfig: unknown, file = 'config.json', tensorNames?: Iterable<string>): ModelSpec {
  if (!rawConfig || typeof rawConfig !== 'object') throw new ConfigError(`${file}: not a JSON object.`);
  const root = rawConfig as Record<string, unknown>;
  const archs = Array.isArray(root.architectures) ? (root.architectures as string[]) : [];
  const modelType = String(root.model_type ?? '');
  const names = tensorNames ? new Set(tensorNames) : undefined;
  const architecture = archs[0] ?? '';
  let family: Family;
  if (CLIP_ARCHS.includes(architecture) || modelType === 'clip' || modelType === 'clip_vision_model') family = 'clip';
  else if (DEIT_ARCHS.includes(architecture) || modelType === 'deit') family = 'deit';
  else if (VIT_ARCHS.includes(architecture) || modelType === 'vit') family = 'vit';
  else {
    throw new ConfigError(
      `${file}: unsupported architecture ${JSON.stringify(architecture || modelType || 'unknown')}. ` +
        `Rankscope loads ViT (${VIT_ARCHS.join(', ')}), DeiT (${DEIT_ARCHS.join(', ')}) and CLIP vision (${CLIP_ARCHS.join(', ')}) checkpoints.`,
    );
  }
  // A full CLIPModel nests the tower's settings in vision_config.
  const nested = family === 'clip' && !!root.vision_config && typeof root.vision_config === 'object';
  const o = nested ? (root.vision_config as Record<string, unknown>) : root;
  // transformers saves a nested sub-config as a diff against its class defaults, so a CLIPModel's
  // vision_config may omit any value equal to CLIPVisionConfig's default (e.g. hidden_size 768).
  const dflt = (key: keyof typeof CLIP_VISION_DEFAULTS) => (nested ? CLIP_VISION_DEFAULTS[key] : undefined);
  const hidden = size(o, 'hidden_size', file, 16384, dflt('hidden_size'));
  const heads = size(o, 'num_attention_heads', file, 256, dflt('num_attention_heads'));
  if (hidden % heads !== 0) throw new ConfigError(`${file}: hidden_size ${hidden} is not divisible by num_attention_heads ${heads}.`);
  const act = String(o.hidden_act ?? (family === 'clip' ? 'quick_gelu' : 'gelu'));
  if (act !== 'gelu' && act !== 'quick_gelu') {
    throw new ConfigError(`${file}: hidden_act "${act}" is not supported; Rankscope implements gelu and quick_gelu.`);
  }
  const has = (n: string) => names?.has(n) ?? false;
  let prefix: string;
  if (family === 'clip') prefix = 'vision_model.';
  else if (family === 'deit') prefix = names ? (!has('deit.embeddings.cls_token') && has('embeddings.cls_token') ? '' : 'deit.') : architecture === 'DeiTModel' ? '' : 'deit.';
  else prefix = names ? (has('vit.embeddings.cls_token') ? 'vit.' : has('embeddings.cls_token') ? '' : 'vit.') : architecture === 'ViTModel' ? '' : 'vit.';
  const hasHead = names ? has('classifier.weight') : architecture.endsWith('ForImageClassification');
  const projectionDim =
    family === 'clip' && (names ? has('visual_projection.weight') : architecture !== 'CLIPVisionModel' && architecture !== 'CLIPForImageClassification')
      ? num(root, 'projection_dim', file, (root.vision_config as Record<string, unknown> | undefined)?.projection_dim as number | undefined ?? 512)
      : undefined;
  const imageSize = size(o, 'image_size', file, 4096, 224);
  const patchSize = size(o, 'patch_size', file, 1024, family === 'clip' ? 32 : 16);
  if (patchSize > imageSize) throw new ConfigError(`${file}: patch_size ${patchSize} is larger than image_size ${imageSize}, so the image has no patches.`);
  return {
    family,
    architecture: architecture || (family === 'clip' ? 'CLIPVisionModel' : 'ViTModel'),
    prefix,
    hidden,
    layers: size(o, 'num_hidden_layers', file, 256, dflt('num_hidden_layers')),
    heads,
    intermediate: size(o, 'intermediate_size', file, 65536, dflt('intermediate_size')),
    imageSize,
    patchSize,
    channels: size(o, 'num_channels', file, 16, 3),
    eps: num(o, 'layer_norm_eps', file, family === 'clip' ? 1e-5 : 1e-12),
    act,
    qkvBias: family === 'clip' ? true : o.qkv_bias !== false,
    patchBias: family !== 'clip',
    preLayernorm: family === 'clip',
    // HF's DeiTEmbeddings always holds a distillation token (position embeddings cover patches + 2);
    // DeiT checkpoints without one are published in ViT's layout (model_type "vit").
    distillationToken: family === 'deit' && (names ? has(`${prefix}embeddings.distillation_token`) : true),
    pooling: family === 'clip' ? 'mean_patches' : 'cls',
    projectionDim,
    labels: labelsOf(root),
    hasHead,
    raw: root,
  };
}
