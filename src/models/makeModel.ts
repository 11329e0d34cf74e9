/**
 * Seeded random checkpoints in the exact Hugging Face layout: config.json and
 * preprocessor_config.json as transformers writes them, and every tensor a
 * ViTForImageClassification / DeiTForImageClassification / CLIPForImageClassification (or the
 * bare ViTModel / DeiTModel / CLIPVisionModel) holds, under HF's names and shapes. Nothing
 * here touches files: scripts/make-model.ts serialises the result (safetensors via src/io).
 *
 * Values come from the counter-based generator (src/engine/random.ts), one stream per tensor
 * derived from its name, so a tensor's values depend only on (seed, name, shape): the same seed
 * gives the same bytes on every machine.
 */
import { randomArray, hash32 } from '../engine/random';
import { STREAMS } from '../engine/streams';
import { embeddingNames, expectedTensors, HEAD_MODULE, blockModules } from './names';
import { PRESETS, type PresetDims, type PresetName } from './presets';
import { parseConfig, type ModelSpec } from './spec';
import { makeClipTokenizer } from './makeTokenizer';
import { expectedTextTensors, LOGIT_SCALE, parseTextConfig, TEXT_NAMES, TEXT_PROJECTION, VISUAL_PROJECTION, type TextSpec } from './textSpec';

export type ModelArch = 'vit' | 'deit' | 'clip';

/**
 * 'hf': Hugging Face's own initialisation (`_init_weights` of ViT/DeiT and CLIP): normal
 * weights, zero biases, layernorms at weight 1 and bias 0 — what a freshly constructed model
 * saves. 'varied': every tensor non-trivial (weights N(0, 1/fan_in), biases and layernorm
 * offsets N(0, 0.1), layernorm weights 1 + N(0, 0.1), embeddings N(0, 0.2)), so correctness
 * tests notice a swapped bias, a skipped layernorm weight or a wrong attention scale, which
 * near-uniform attention and zero biases would hide.
 */
export type InitStyle = 'hf' | 'varied';

export interface MakeModelOptions {
  arch: ModelArch;
  preset?: PresetName;
  /** Changes to the preset's sizes. */
  dims?: Partial<PresetDims>;
  seed?: number;
  /** Number of classes, or their names (id2label order). Defaults to the preset's count. */
  labels?: number | readonly string[];
  /** Write a classification head (…ForImageClassification); false writes the bare backbone. Default true. */
  head?: boolean;
  init?: InitStyle;
  /**
   * CLIP only: also write the text tower, text_projection, visual_projection, logit_scale and a
   * small tokenizer.json, as a full CLIPModel holds them (the bare model is then CLIPModel
   * instead of CLIPVisionModel). Default false here; the make-model command turns it on.
   */
  text?: boolean;
}

export interface GeneratedTensor {
  shape: number[];
  data: Float32Array;
}

export interface GeneratedCheckpoint {
  /** config.json as an object (serialise with `hfJson`). */
  config: Record<string, unknown>;
  /** preprocessor_config.json as an object. */
  preprocessorConfig: Record<string, unknown>;
  /** Every tensor of model.safetensors, float32, in a fixed order. */
  tensors: Map<string, GeneratedTensor>;
  /** What parseConfig reads from this checkpoint. */
  spec: ModelSpec;
  labels: string[];
  /** CLIP with `text`: tokenizer.json and tokenizer_config.json as objects, and the text tower's spec. */
  tokenizer?: { json: Record<string, unknown>; config: Record<string, unknown> };
  textSpec?: TextSpec;
}

/** Longest prompt of a generated text tower: room for the CLIP paper's templates around short class names. */
const TEXT_POSITIONS = 32;

/** The transformers release whose save_pretrained output these files reproduce. */
export const TRANSFORMERS_VERSION = '4.46.3';

const INITIALIZER_RANGE = 0.02;
const INITIALIZER_FACTOR = 1.0;
const CLIP_PROJECTION_DIM = 512;

const ARCHITECTURES: Record<ModelArch, { head: string; bare: string }> = {
  vit: { head: 'ViTForImageClassification', bare: 'ViTModel' },
  deit: { head: 'DeiTForImageClassification', bare: 'DeiTModel' },
  clip: { head: 'CLIPForImageClassification', bare: 'CLIPVisionModel' },
};

function labelNames(labels: MakeModelOptions['labels'], fallback: number): string[] {
  if (Array.isArray(labels)) {
    if (!labels.length) throw new Error('makeModel: the label list is empty.');
    if (new Set(labels).size !== labels.length) throw new Error('makeModel: label names must be distinct (label2id maps each to one id).');
    return labels.map(String);
  }
  const n = (labels as number | undefined) ?? fallback;
  if (!Number.isInteger(n) || n < 1) throw new Error(`makeModel: --labels must be a positive whole number, got ${n}.`);
  return Array.from({ length: n }, (_, i) => `LABEL_${i}`);
}

function validateDims(d: PresetDims): void {
  for (const [k, v] of Object.entries(d)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`makeModel: ${k} must be a positive whole number, got ${v}.`);
  }
  if (d.hidden % d.heads !== 0) throw new Error(`makeModel: hidden ${d.hidden} is not divisible by heads ${d.heads}.`);
  if (d.imageSize % d.patchSize !== 0) throw new Error(`makeModel: image size ${d.imageSize} is not a multiple of patch size ${d.patchSize}.`);
}

function vitLikeConfig(arch: ModelArch, architecture: string, d: PresetDims, labels: string[] | undefined): Record<string, unknown> {
  const c: Record<string, unknown> = {
    architectures: [architecture],
    attention_probs_dropout_prob: 0.0,
    encoder_stride: 16,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.0,
    hidden_size: d.hidden,
    image_size: d.imageSize,
    initializer_range: INITIALIZER_RANGE,
    intermediate_size: d.intermediate,
    layer_norm_eps: 1e-12,
    model_type: arch,
    num_attention_heads: d.heads,
    num_channels: d.channels,
    num_hidden_layers: d.layers,
    patch_size: d.patchSize,
    pooler_act: 'tanh',
    pooler_output_size: d.hidden,
    qkv_bias: true,
    torch_dtype: 'float32',
    transformers_version: TRANSFORMERS_VERSION,
  };
  if (labels) Object.assign(c, labelMaps(labels));
  return c;
}

function clipVisionConfig(d: PresetDims): Record<string, unknown> {
  return {
    attention_dropout: 0.0,
    hidden_act: 'quick_gelu',
    hidden_size: d.hidden,
    image_size: d.imageSize,
    initializer_factor: INITIALIZER_FACTOR,
    initializer_range: INITIALIZER_RANGE,
    intermediate_size: d.intermediate,
    layer_norm_eps: 1e-5,
    model_type: 'clip_vision_model',
    num_attention_heads: d.heads,
    num_channels: d.channels,
    num_hidden_layers: d.layers,
    patch_size: d.patchSize,
    projection_dim: CLIP_PROJECTION_DIM,
  };
}

function labelMaps(labels: string[]): { id2label: Record<string, string>; label2id: Record<string, number> } {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  labels.forEach((name, i) => {
    id2label[String(i)] = name;
    label2id[name] = i;
  });
  return { id2label, label2id };
}

/** text_config as a CLIPModel saves it for the generated tower (the vision tower's sizes). */
function clipTextConfig(d: PresetDims, vocabSize: number, bosId: number, eosId: number): Record<string, unknown> {
  return {
    attention_dropout: 0.0,
    bos_token_id: bosId,
    eos_token_id: eosId,
    hidden_act: 'quick_gelu',
    hidden_size: d.hidden,
    initializer_factor: INITIALIZER_FACTOR,
    initializer_range: INITIALIZER_RANGE,
    intermediate_size: d.intermediate,
    layer_norm_eps: 1e-5,
    max_position_embeddings: TEXT_POSITIONS,
    model_type: 'clip_text_model',
    num_attention_heads: d.heads,
    num_hidden_layers: d.layers,
    pad_token_id: 1,
    projection_dim: d.hidden,
    vocab_size: vocabSize,
  };
}

function clipConfig(architecture: string, d: PresetDims, labels: string[] | undefined, text?: Record<string, unknown>): Record<string, unknown> {
  if (text) {
    // A full CLIPConfig; the joint embedding is as wide as the towers, small like the rest.
    const vision = { ...clipVisionConfig(d), projection_dim: d.hidden };
    return {
      architectures: [architecture],
      ...(labels ? labelMaps(labels) : {}),
      initializer_factor: INITIALIZER_FACTOR,
      logit_scale_init_value: 2.6592,
      model_type: 'clip',
      projection_dim: d.hidden,
      text_config: text,
      torch_dtype: 'float32',
      transformers_version: TRANSFORMERS_VERSION,
      vision_config: vision,
    };
  }
  if (!labels) {
    // CLIPVisionModel saves a flat CLIPVisionConfig.
    return { architectures: [architecture], ...clipVisionConfig(d), torch_dtype: 'float32', transformers_version: TRANSFORMERS_VERSION };
  }
  // CLIPForImageClassification is built from a full CLIPConfig; only its vision tower exists.
  return {
    architectures: [architecture],
    ...labelMaps(labels),
    initializer_factor: INITIALIZER_FACTOR,
    logit_scale_init_value: 2.6592,
    model_type: 'clip',
    projection_dim: CLIP_PROJECTION_DIM,
    text_config: { model_type: 'clip_text_model' },
    torch_dtype: 'float32',
    transformers_version: TRANSFORMERS_VERSION,
    vision_config: clipVisionConfig(d),
  };
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];
const RESCALE = 1 / 255;

function perChannel(values: number[], channels: number, fallback: number): number[] {
  return channels === values.length ? [...values] : new Array<number>(channels).fill(fallback);
}

/** preprocessor_config.json as the family's image processor saves it, sized for this model. */
export function preprocessorConfig(arch: ModelArch, imageSize: number, channels: number): Record<string, unknown> {
  const square = { height: imageSize, width: imageSize };
  if (arch === 'clip') {
    return {
      crop_size: square,
      do_center_crop: true,
      do_convert_rgb: true,
      do_normalize: true,
      do_rescale: true,
      do_resize: true,
      image_mean: perChannel(CLIP_MEAN, channels, 0.5),
      image_processor_type: 'CLIPImageProcessor',
      image_std: perChannel(CLIP_STD, channels, 0.5),
      resample: 3,
      rescale_factor: RESCALE,
      size: { shortest_edge: imageSize },
    };
  }
  if (arch === 'deit') {
    return {
      crop_size: square,
      do_center_crop: true,
      do_normalize: true,
      do_rescale: true,
      do_resize: true,
      image_mean: perChannel(IMAGENET_MEAN, channels, 0.5),
      image_processor_type: 'DeiTImageProcessor',
      image_std: perChannel(IMAGENET_STD, channels, 0.5),
      resample: 3,
      rescale_factor: RESCALE,
      size: square,
    };
  }
  return {
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: new Array<number>(channels).fill(0.5),
    image_processor_type: 'ViTImageProcessor',
    image_std: new Array<number>(channels).fill(0.5),
    resample: 2,
    rescale_factor: RESCALE,
    size: square,
  };
}

/** FNV-1a over the UTF-16 code units of a tensor name, mixed into the model-init stream. */
export function tensorStream(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return hash32(h ^ STREAMS.modelInit);
}

type Kind = { kind: 'normal'; std: number } | { kind: 'const'; value: number } | { kind: 'lnWeight' } | { kind: 'offset' };

function draw(name: string, n: number, seed: number, k: Kind): Float32Array {
  const stream = tensorStream(name);
  switch (k.kind) {
    case 'const':
      return new Float32Array(n).fill(k.value);
    case 'normal':
      return Float32Array.from(randomArray(n, seed, stream, { kind: 'normal', std: k.std }));
    case 'lnWeight':
      return Float32Array.from(randomArray(n, seed, stream, { kind: 'normal', std: 0.1 }), (v) => 1 + v);
    case 'offset':
      return Float32Array.from(randomArray(n, seed, stream, { kind: 'normal', std: 0.1 }));
  }
}

/** How HF's `_init_weights` (or the 'varied' style) fills each tensor. */
function initKind(spec: ModelSpec, name: string, shape: number[], init: InitStyle): Kind {
  const isBias = name.endsWith('.bias');
  const isLayerNorm = shape.length === 1 && layerNormNames(spec).has(name.replace(/\.(weight|bias)$/, ''));
  const e = embeddingNames(spec);
  const isEmbedding = name === e.cls || name === e.distillation || name === e.position;
  if (init === 'varied') {
    if (isLayerNorm) return isBias ? { kind: 'offset' } : { kind: 'lnWeight' };
    if (isBias) return { kind: 'offset' };
    if (isEmbedding) return { kind: 'normal', std: 0.2 };
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    return { kind: 'normal', std: 1 / Math.sqrt(fanIn) };
  }
  if (isLayerNorm) return { kind: 'const', value: isBias ? 0 : 1 };
  if (isBias) return { kind: 'const', value: 0 };
  const D = spec.hidden;
  const ir = INITIALIZER_RANGE;
  if (spec.family !== 'clip') return { kind: 'normal', std: ir };
  // CLIPPreTrainedModel._init_weights, with initializer_factor f.
  const f = INITIALIZER_FACTOR;
  if (name === e.cls) return { kind: 'normal', std: D ** -0.5 * f };
  if (name === e.position || name === e.patchWeight) return { kind: 'normal', std: ir * f };
  if (name === `${HEAD_MODULE}.weight`) return { kind: 'normal', std: D ** -0.5 * f };
  const inProj = D ** -0.5 * (2 * spec.layers) ** -0.5 * f;
  if (/\.self_attn\.(q|k|v)_proj\.weight$/.test(name)) return { kind: 'normal', std: inProj };
  if (name.endsWith('.self_attn.out_proj.weight')) return { kind: 'normal', std: D ** -0.5 * f };
  if (name.endsWith('.mlp.fc1.weight')) return { kind: 'normal', std: (2 * D) ** -0.5 * f };
  if (name.endsWith('.mlp.fc2.weight')) return { kind: 'normal', std: inProj };
  return { kind: 'normal', std: ir * f };
}

/** CLIPPreTrainedModel._init_weights for the text side (or the 'varied' style). */
function textInitKind(t: TextSpec, visionHidden: number, name: string, shape: number[], init: InitStyle): Kind {
  if (name === LOGIT_SCALE) return { kind: 'const', value: t.logitScaleInit };
  const isBias = name.endsWith('.bias');
  const isLayerNorm = shape.length === 1 && /(layer_norm\d|final_layer_norm)\.(weight|bias)$/.test(name);
  if (init === 'varied') {
    if (isLayerNorm) return isBias ? { kind: 'offset' } : { kind: 'lnWeight' };
    if (isBias) return { kind: 'offset' };
    if (name === TEXT_NAMES.token || name === TEXT_NAMES.position) return { kind: 'normal', std: 0.2 };
    return { kind: 'normal', std: 1 / Math.sqrt(shape[1]) };
  }
  if (isLayerNorm) return { kind: 'const', value: isBias ? 0 : 1 };
  if (isBias) return { kind: 'const', value: 0 };
  const f = INITIALIZER_FACTOR;
  const D = t.hidden;
  if (name === TEXT_NAMES.token || name === TEXT_NAMES.position) return { kind: 'normal', std: 0.02 * f };
  if (name === TEXT_PROJECTION) return { kind: 'normal', std: D ** -0.5 * f };
  if (name === VISUAL_PROJECTION) return { kind: 'normal', std: visionHidden ** -0.5 * f };
  const inProj = D ** -0.5 * (2 * t.layers) ** -0.5 * f;
  if (/\.self_attn\.(q|k|v)_proj\.weight$/.test(name)) return { kind: 'normal', std: inProj };
  if (name.endsWith('.self_attn.out_proj.weight')) return { kind: 'normal', std: D ** -0.5 * f };
  if (name.endsWith('.mlp.fc1.weight')) return { kind: 'normal', std: (2 * D) ** -0.5 * f };
  if (name.endsWith('.mlp.fc2.weight')) return { kind: 'normal', std: inProj };
  return { kind: 'normal', std: INITIALIZER_RANGE * f };
}

function layerNormNames(spec: ModelSpec): Set<string> {
  const e = embeddingNames(spec);
  const s = new Set<string>([e.finalLayernorm]);
  if (e.preLayernorm) s.add(e.preLayernorm);
  for (let i = 0; i < spec.layers; i++) {
    const b = blockModules(spec, i);
    s.add(b.ln1);
    s.add(b.ln2);
  }
  return s;
}

/** Builds a seeded checkpoint; the same options always give identical tensors and configs. */
export function makeModel(opts: MakeModelOptions): GeneratedCheckpoint {
  const arch = opts.arch;
  if (!(arch in ARCHITECTURES)) throw new Error(`makeModel: unknown arch ${JSON.stringify(arch)}; use vit, deit or clip.`);
  const presetName = opts.preset ?? 'tiny';
  const preset = PRESETS[presetName];
  if (!preset) throw new Error(`makeModel: unknown preset ${JSON.stringify(presetName)}; use ${Object.keys(PRESETS).join(', ')}.`);
  const dims: PresetDims = { ...preset, ...opts.dims };
  validateDims(dims);
  const head = opts.head ?? true;
  const labels = labelNames(opts.labels, dims.labels);
  const seed = (opts.seed ?? 0) >>> 0;
  const init = opts.init ?? 'hf';
  const withText = arch === 'clip' && !!opts.text;
  const architecture = head ? ARCHITECTURES[arch].head : withText ? 'CLIPModel' : ARCHITECTURES[arch].bare;
  const tok = withText ? makeClipTokenizer() : undefined;
  const textConfig = tok ? clipTextConfig(dims, tok.vocabSize, tok.bosId, tok.eosId) : undefined;
  const config =
    arch === 'clip' ? clipConfig(architecture, dims, head ? labels : undefined, textConfig) : vitLikeConfig(arch, architecture, dims, head ? labels : undefined);

  // The names follow from the config alone (no tensor list yet): exactly what parseConfig assumes.
  const provisional = parseConfig(config, 'config.json');
  const shapes = expectedTensors(provisional);
  if (!head && arch !== 'clip') {
    // ViTModel and DeiTModel are built with add_pooling_layer=True.
    shapes.set(`${provisional.prefix}pooler.dense.weight`, [dims.hidden, dims.hidden]);
    shapes.set(`${provisional.prefix}pooler.dense.bias`, [dims.hidden]);
  }
  if (head) {
    shapes.set(`${HEAD_MODULE}.weight`, [labels.length, dims.hidden]);
    shapes.set(`${HEAD_MODULE}.bias`, [labels.length]);
  }
  const textSpec = withText ? parseTextConfig(config, 'config.json') : undefined;
  const textShapes = textSpec ? expectedTextTensors(textSpec, dims.hidden) : new Map<string, number[]>();
  const tensors = new Map<string, GeneratedTensor>();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { shape: [...shape], data: draw(name, n, seed, initKind(provisional, name, shape, init)) });
  }
  for (const [name, shape] of textShapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { shape: [...shape], data: draw(name, n, seed, textInitKind(textSpec!, dims.hidden, name, shape, init)) });
  }
  const spec = parseConfig(config, 'config.json', tensors.keys());
  return {
    config,
    preprocessorConfig: preprocessorConfig(arch, dims.imageSize, dims.channels),
    tensors,
    spec,
    labels: head ? labels : [],
    ...(tok ? { tokenizer: { json: tok.tokenizer, config: tok.config }, textSpec } : {}),
  };
}

/** The checkpoint's tensors as float64 (exactly the stored float32 values), for the reference. */
export function weights64(ckpt: GeneratedCheckpoint): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const [name, t] of ckpt.tensors) out.set(name, Float64Array.from(t.data));
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON as transformers writes it: json.dumps(obj, indent=2, sort_keys=True) + "\n", ASCII only,
// floats in Python's repr (1e-05, 0.0, 1.0).

/** Keys whose numbers transformers stores as Python floats. */
const FLOAT_KEYS = new Set([
  'attention_dropout',
  'attention_probs_dropout_prob',
  'dropout',
  'hidden_dropout_prob',
  'image_mean',
  'image_std',
  'initializer_factor',
  'initializer_range',
  'layer_norm_eps',
  'logit_scale_init_value',
  'rescale_factor',
]);

/** Python's repr of a float: shortest round-trip digits, fixed for 1e-4 ≤ |x| < 1e16, else d.ddde±XX. */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant, expStr] = Math.abs(x).toExponential().split('e');
  const e = Number(expStr);
  const digits = mant.replace('.', '');
  if (e >= -4 && e < 16) {
    if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
    const intPart = digits.slice(0, e + 1).padEnd(e + 1, '0');
    const frac = digits.slice(e + 1) || '0';
    return `${sign}${intPart}.${frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

function pyString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function pyValue(v: unknown, indent: string, asFloat: boolean): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return asFloat || !Number.isInteger(v) ? pythonFloat(v) : String(v);
  if (typeof v === 'string') return pyString(v);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return `[\n${v.map((x) => inner + pyValue(x, inner, asFloat)).join(',\n')}\n${indent}]`;
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (!keys.length) return '{}';
    const o = v as Record<string, unknown>;
    return `{\n${keys.map((k) => `${inner}${pyString(k)}: ${pyValue(o[k], inner, FLOAT_KEYS.has(k))}`).join(',\n')}\n${indent}}`;
  }
  throw new Error(`hfJson: cannot serialise a ${typeof v}`);
}

/** Serialises a config the way transformers' to_json_file does, byte for byte. */
export function hfJson(obj: Record<string, unknown>): string {
  return `${pyValue(obj, '', false)}\n`;
}
