/**
 * CLIP's text tower as a full CLIPModel's config.json describes it (`text_config`, saved by
 * transformers as a diff against CLIPTextConfig's defaults), plus the projections and the logit
 * scale that join it to the vision tower. The tensor names are the one table for loading,
 * checkpoint generation, the float64 reference and export.
 */
import { ConfigError, type HiddenAct } from './spec';

export interface TextSpec {
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  /** max_position_embeddings: the longest prompt in tokens, special tokens included (77 for OpenAI's CLIP). */
  maxPositions: number;
  eps: number;
  act: HiddenAct;
  /**
   * Where the pooled text feature is read, as transformers' CLIPTextTransformer does: at the
   * argmax of the input ids when the config's eos_token_id is 2 (OpenAI's checkpoints, saved
   * before transformers fixed that id; their end-of-text token is the largest id), else at the
   * first position holding eos_token_id.
   */
  eosTokenId: number;
  /** projection_dim: size of text_projection and visual_projection outputs (the joint embedding). */
  projectionDim: number;
  /** config.logit_scale_init_value, used only when a checkpoint lacks the logit_scale tensor. */
  logitScaleInit: number;
}

/** CLIPTextConfig's defaults (openai/clip-vit-base-patch32), for values a saved diff leaves out. */
const TEXT_DEFAULTS = {
  vocab_size: 49408,
  hidden_size: 512,
  intermediate_size: 2048,
  num_hidden_layers: 12,
  num_attention_heads: 8,
  max_position_embeddings: 77,
  layer_norm_eps: 1e-5,
  hidden_act: 'quick_gelu',
  eos_token_id: 49407,
} as const;

/** Hub ids of full CLIP checkpoints (both towers), named when someone loads a vision-only one. */
export const FULL_CLIP_IDS = ['openai/clip-vit-base-patch32', 'openai/clip-vit-base-patch16', 'openai/clip-vit-large-patch14', 'laion/CLIP-ViT-B-32-laion2B-s34B-b79K'];

export const TEXT_PREFIX = 'text_model.';
export const TEXT_PROJECTION = 'text_projection.weight';
export const VISUAL_PROJECTION = 'visual_projection.weight';
export const LOGIT_SCALE = 'logit_scale';

function num(o: Record<string, unknown>, key: keyof typeof TEXT_DEFAULTS | string, file: string, fallback: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${file}: text_config "${key}" is not a number (got ${JSON.stringify(o[key])}).`);
  return v;
}

/**
 * The text tower's spec when config.json is a full CLIPModel (it has a text_config and the
 * weights hold text_model.*), else undefined. `tensorNames` decides: CLIPForImageClassification
 * and CLIPVisionModel configs may carry a text_config without the weights.
 */
export function parseTextConfig(rawConfig: Record<string, unknown>, file = 'config.json', tensorNames?: Iterable<string>): TextSpec | undefined {
  const tc = rawConfig.text_config;
  if (!tc || typeof tc !== 'object') return undefined;
  if (tensorNames) {
    const names = new Set(tensorNames);
    if (!names.has(`${TEXT_PREFIX}embeddings.token_embedding.weight`)) return undefined;
  }
  const o = tc as Record<string, unknown>;
  const hidden = num(o, 'hidden_size', file, TEXT_DEFAULTS.hidden_size);
  const heads = num(o, 'num_attention_heads', file, TEXT_DEFAULTS.num_attention_heads);
  if (hidden % heads !== 0) throw new ConfigError(`${file}: text_config hidden_size ${hidden} is not divisible by num_attention_heads ${heads}.`);
  const act = String(o.hidden_act ?? TEXT_DEFAULTS.hidden_act);
  if (act !== 'gelu' && act !== 'quick_gelu') throw new ConfigError(`${file}: text_config hidden_act "${act}" is not supported; Rankscope implements gelu and quick_gelu.`);
  return {
    vocabSize: num(o, 'vocab_size', file, TEXT_DEFAULTS.vocab_size),
    hidden,
    layers: num(o, 'num_hidden_layers', file, TEXT_DEFAULTS.num_hidden_layers),
    heads,
    intermediate: num(o, 'intermediate_size', file, TEXT_DEFAULTS.intermediate_size),
    maxPositions: num(o, 'max_position_embeddings', file, TEXT_DEFAULTS.max_position_embeddings),
    eps: num(o, 'layer_norm_eps', file, TEXT_DEFAULTS.layer_norm_eps),
    act,
    eosTokenId: num(o, 'eos_token_id', file, TEXT_DEFAULTS.eos_token_id),
    projectionDim: num(rawConfig, 'projection_dim', file, 512),
    logitScaleInit: num(rawConfig, 'logit_scale_init_value', file, 2.6592),
  };
}

/** Module paths of text block i (the same layout as CLIP's vision blocks under text_model.). */
export function textBlockModules(i: number) {
  const b = `${TEXT_PREFIX}encoder.layers.${i}.`;
  return {
    ln1: `${b}layer_norm1`,
    ln2: `${b}layer_norm2`,
    query: `${b}self_attn.q_proj`,
    key: `${b}self_attn.k_proj`,
    value: `${b}self_attn.v_proj`,
    attnOut: `${b}self_attn.out_proj`,
    fc1: `${b}mlp.fc1`,
    fc2: `${b}mlp.fc2`,
  };
}

export const TEXT_NAMES = {
  token: `${TEXT_PREFIX}embeddings.token_embedding.weight`,
  position: `${TEXT_PREFIX}embeddings.position_embedding.weight`,
  finalLayernorm: `${TEXT_PREFIX}final_layer_norm`,
} as const;

/**
 * Every tensor of the text side of a CLIPModel with its shape: the tower, text_projection,
 * visual_projection (vision hidden size `visionHidden`) and logit_scale (a 0-d tensor).
 */
export function expectedTextTensors(t: TextSpec, visionHidden: number): Map<string, number[]> {
  const D = t.hidden;
  const out = new Map<string, number[]>();
  out.set(TEXT_NAMES.token, [t.vocabSize, D]);
  out.set(TEXT_NAMES.position, [t.maxPositions, D]);
  for (let i = 0; i < t.layers; i++) {
    const m = textBlockModules(i);
    for (const ln of [m.ln1, m.ln2]) {
      out.set(`${ln}.weight`, [D]);
      out.set(`${ln}.bias`, [D]);
    }
    for (const p of [m.query, m.key, m.value, m.attnOut]) {
      out.set(`${p}.weight`, [D, D]);
      out.set(`${p}.bias`, [D]);
    }
    out.set(`${m.fc1}.weight`, [t.intermediate, D]);
    out.set(`${m.fc1}.bias`, [t.intermediate]);
    out.set(`${m.fc2}.weight`, [D, t.intermediate]);
    out.set(`${m.fc2}.bias`, [D]);
  }
  out.set(`${TEXT_NAMES.finalLayernorm}.weight`, [D]);
  out.set(`${TEXT_NAMES.finalLayernorm}.bias`, [D]);
  out.set(TEXT_PROJECTION, [t.projectionDim, D]);
  out.set(VISUAL_PROJECTION, [t.projectionDim, visionHidden]);
  out.set(LOGIT_SCALE, []);
  return out;
}

/** The position transformers pools each sequence at (see TextSpec.eosTokenId). */
export function eosPosition(ids: readonly number[], eosTokenId: number): number {
  let at = 0;
  if (eosTokenId === 2) {
    for (let i = 1; i < ids.length; i++) if (ids[i] > ids[at]) at = i;
    return at;
  }
  const i = ids.indexOf(eosTokenId);
  // torch's argmax of an all-false mask is 0.
  return i < 0 ? 0 : i;
}

/** What to tell someone whose CLIP checkpoint has no text tower. */
export const TEXT_FULL_CHECKPOINT_HINT =
  `Zero-shot classification needs the full CLIP checkpoint (both towers, CLIPModel), not a vision-only one (CLIPVisionModel / CLIPForImageClassification). ` +
  `Load a full CLIP from the Hub, e.g. ${FULL_CLIP_IDS.join(', ')}.`;
