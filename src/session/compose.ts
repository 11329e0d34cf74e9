/**
 * Composing finished runs with aTLAS (Zhang et al., "Knowledge Composition using Task Vectors with
 * Learned Anisotropic Scaling"): θ = θ₀ + Σ_t Σ_b λ_{t,b}·τ_t^(b), one coefficient per (task
 * vector, block) — per group of a block's elements under aTLAS×K — learned from 0 on a target data
 * set, usually few-shot, with a new linear head or, for a full CLIP, its zero-shot head (frozen:
 * only λ train, aTLAS's own setting; or trained from there). The page's worker and `npm run compose`
 * (scripts/compose.ts) call `composeRuns`; the kernels and the task vectors are in src/compose/.
 *
 * Beside the composed accuracy it measures, on the same validation images: the base (λ frozen at
 * 0) and the plain sum of task vectors (λ frozen at 1), each with the same kind of head trained by
 * the same recipe for as many steps (under a frozen zero-shot head nothing trains: the base is
 * CLIP zero-shot), and each member with its own head where its classes are the data's.
 */
import { composeBlock64 } from '../compose/reference';
import { Composition, compositionBytes } from '../compose/composition';
import { buildTaskVectors, ComposeInputError, type TaskVectorBlock, type TaskVectors } from '../compose/taskVectors';
import type { GpuContext } from '../gpu/context';
import type { Checkpoint } from '../io/checkpoint';
import { classificationName, ZERO_SHOT_HEAD } from '../io/peft/layout';
import { mergedConfig } from '../io/peft/exportMerged';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors';
import { hfJson, preprocessorConfig } from '../models/makeModel';
import { loadMethod } from '../methods/registry';
import { expectedTensors, HEAD_MODULE } from '../models/names';
import { parseConfig, type ModelSpec } from '../models/spec';
import { VISUAL_PROJECTION } from '../models/textSpec';
import { VisionTransformer } from '../models/vision';
import { DEFAULT_TEMPLATES, type HeadKind } from '../models/zeroShot';
import { Trainer, type MetricRecord, type TrainConfig } from '../train/trainer';
import { estimateRun } from './estimate';
import { normalisationFor, type PreparedData } from './prepare';
import { textSpecOf, zeroShotHead, ZeroShotError } from './zeroShot';

export { ComposeInputError } from '../compose/taskVectors';

export interface ComposeSettings {
  /** Optimizer steps of the composition (and of each baseline's head). */
  steps: number;
  batchSize: number;
  /** Peak learning rate of the coefficients λ (aTLAS's recipe: 0.1). */
  lr: number;
  /** Peak learning rate of the new linear head. */
  headLr: number;
  weightDecay: number;
  /** Global-norm gradient clipping (0: none). */
  clip: number;
  warmupSteps: number;
  /** K of aTLAS×K: each block's elements split into K seeded random groups, a coefficient each; 1 = plain aTLAS. */
  groups: number;
  /** Seeds the head's init, the data order and the groups. */
  seed: number;
  /** Evaluate every this many steps (default: only at the end). */
  evalEvery?: number;
  /**
   * The head: a new linear one (default), or for a full CLIP with its tokenizer the zero-shot head
   * (class names × templates through the text tower), frozen — only λ train, as aTLAS does — or
   * trained from there ('zeroshot-init'). The base and the plain sum use the same kind.
   */
  head?: HeadKind;
  /** Prompt templates of a zero-shot head ("{}" is the class name); CLIP's default prompt when absent. */
  templates?: string[];
  /** Class names the zero-shot head reads instead of the data's (same count and order), e.g. typed over bare numbers. */
  classNames?: string[];
}

export const COMPOSE_DEFAULTS: ComposeSettings = {
  steps: 100,
  batchSize: 16,
  lr: 0.1,
  headLr: 1e-3,
  weightDecay: 0.1,
  clip: 1,
  warmupSteps: 0,
  groups: 1,
  seed: 0,
};

export interface ComposeField {
  key: keyof ComposeSettings;
  label: string;
  help: string;
  min?: number;
  max?: number;
  step?: number;
  /** Whole numbers only. */
  integer?: boolean;
}

/** Editable settings with label, help and range, for the page's form (and the CLI's checks). */
export const COMPOSE_FIELDS: ComposeField[] = [
  { key: 'steps', label: 'Steps', help: 'Optimizer steps of the composition; the base and plain-sum heads train as many.', min: 1, step: 1, integer: true },
  { key: 'batchSize', label: 'Batch size', help: 'Images per step.', min: 1, step: 1, integer: true },
  { key: 'lr', label: 'Coefficient learning rate', help: 'Peak AdamW learning rate of the coefficients λ (aTLAS uses 0.1).', min: 1e-6, step: 0.01 },
  { key: 'headLr', label: 'Head learning rate', help: 'Peak AdamW learning rate of the head (unused under a frozen zero-shot head).', min: 1e-6, step: 1e-4 },
  { key: 'weightDecay', label: 'Weight decay', help: 'AdamW weight decay; on λ it pulls the composition back towards the base model (aTLAS uses 0.1).', min: 0, step: 0.01 },
  { key: 'clip', label: 'Gradient clipping', help: 'Clip the global gradient norm to this (0: no clipping; aTLAS clips at 1).', min: 0, step: 0.1 },
  { key: 'warmupSteps', label: 'Warmup steps', help: 'Linear warmup before the cosine decay.', min: 0, step: 1, integer: true },
  { key: 'groups', label: 'Groups per block (K)', help: 'aTLAS×K: each block’s elements are split into K seeded random groups with a coefficient each; 1 learns one coefficient per task vector and block.', min: 1, max: 65535, step: 1, integer: true },
  { key: 'seed', label: 'Seed', help: 'Seeds the head, the data order and the groups.', min: 0, max: 2 ** 32 - 1, step: 1, integer: true },
];

export interface ComposeMember {
  /** Run name or folder, used in every message. */
  name: string;
  /** The run's merged model (merged/ folder, or the page's merged export). */
  checkpoint: Checkpoint;
  /** The run's fingerprint if known (kept in composition.json). */
  fingerprint?: string;
  /** Its own accuracy if known (not used: members are evaluated again on the composition's validation images). */
  accuracy?: number;
  /** The method that trained it, if known: an adapter run may change only adapted linear weights, which catches runs from another base. */
  method?: string;
}

export interface ComposeEstimate {
  taskVectorBytes: number;
  totalBytes: number;
  limitBytes: number;
  fits: boolean;
  /** Why it does not fit and what to drop. */
  message?: string;
  /** Blocks the composition learns coefficients for, and the backbone tensors no run changed. */
  blocks?: number;
  unchangedTensors?: number;
  coefficients?: number;
}

export interface ComposeProgress {
  step: number;
  loss?: number;
  valAccuracy?: number;
  /** Which training the step belongs to: the composition, then the base's and the plain sum's heads, then the members' evaluation. */
  phase?: 'compose' | 'base' | 'sum' | 'members';
}

export interface ComposeResult {
  finalValAccuracy: number;
  /** θ₀ with a head trained by the same recipe (λ frozen at 0). */
  baseAccuracy: number;
  /** θ₀ + Σ τ_t with a head trained by the same recipe (λ frozen at 1). */
  sumAccuracy: number;
  /** Each member with its own head on the same validation images, when its classes are the data's. */
  members: Array<{ name: string; accuracy: number | null; note?: string }>;
  coefficients: {
    taskVectors: string[];
    /** HF tensor names (the exported classification model's), one per block. */
    blocks: string[];
    /** Per block: the layer label for the heatmap (e.g. "vit.encoder.layer.0", "embeddings", "final"). */
    layerOf: string[];
    groups: number;
    /** [task][block][group]. */
    values: number[][][];
  };
  curve: Array<{ step: number; loss: number; valAccuracy?: number }>;
  /** The composed model (θ₀ + Σ λ·τ, in float64 rounded once to f32) and the head, under HF names. */
  merged: Map<string, Float32Array>;
  /** The shape of every tensor of `merged`. */
  mergedShapes: Map<string, number[]>;
  /** Backbone tensors no member changed (left out of the composition, as θ₀ in `merged`). */
  unchangedTensors: string[];
  /** Steps the composition (and each baseline head) trained. */
  steps: number;
  /** What trained in the composition, by name: λ, and the head's weights unless it is a frozen zero-shot head. */
  trainables: string[];
  settings: ComposeSettings;
  seconds: number;
}

const MiB = 1024 * 1024;
const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;

function checkSettings(s: ComposeSettings): void {
  for (const f of COMPOSE_FIELDS) {
    const v = s[f.key];
    if (v === undefined) continue;
    const bad = typeof v !== 'number' || !Number.isFinite(v) || (f.min !== undefined && v < f.min) || (f.max !== undefined && v > f.max) || (f.integer && !Number.isInteger(v));
    if (bad) throw new ComposeInputError(`Compose setting "${f.label}" (${f.key}) is ${v}; it takes ${f.integer ? 'a whole number' : 'a number'}${f.min !== undefined ? ` of at least ${f.min}` : ''}${f.max !== undefined ? ` and at most ${f.max}` : ''}.`);
  }
}

/**
 * A zero-shot head needs a full CLIP (text tower) with its tokenizer; refused up front, before any
 * training, with the message the zero-shot runs give (ComposeInputError, like other bad input).
 */
export function checkComposeHead(base: Checkpoint, s: Pick<ComposeSettings, 'head'>): void {
  const head = s.head ?? 'linear';
  if (head === 'linear') return;
  if (head !== 'zeroshot' && head !== 'zeroshot-init') throw new ComposeInputError(`Compose setting head is ${JSON.stringify(head)}; it takes linear, zeroshot or zeroshot-init.`);
  try {
    textSpecOf(base);
  } catch (e) {
    if (e instanceof ZeroShotError) throw new ComposeInputError(`A zero-shot head for the composition: ${e.message}`);
    throw e;
  }
  if (!base.tokenizer?.json) throw new ComposeInputError(`A zero-shot head for the composition: ${base.source} has no tokenizer.json, so the class names cannot be read by its text tower. Download the full checkpoint with its tokenizer files, or use a new linear head.`);
}

/** Under a zero-shot head the image embedding runs through visual_projection: members that changed it carry it in their task vectors. */
const imagePathOf = (s: ComposeSettings): string[] => ((s.head ?? 'linear') === 'linear' ? [] : [VISUAL_PROJECTION]);

function estimateFor(spec: ModelSpec, tv: Pick<TaskVectors, 'blocks' | 'unchanged'>, members: readonly ComposeMember[], settings: ComposeSettings, numLabels: number, limitBytes: number): ComposeEstimate {
  const T = members.length;
  const c = compositionBytes(tv.blocks, T, settings.groups);
  // The model, its head's optimizer state and one step's activations, as a probe run counts them …
  const run = estimateRun(spec, { id: 'compose', name: 'compose', method: 'probe', targets: [], train: { batchSize: settings.batchSize, head: settings.head ?? 'linear' } }, numLabels);
  // … plus the gradient of every composed block (the backward makes ∂L/∂θ for them, as under full fine-tuning).
  const gradBytes = 4 * tv.blocks.reduce((s, b) => s + b.n, 0);
  const totalBytes = run.memoryBytes + c.taskVectorBytes + c.baseCopyBytes + c.coefficientBytes + gradBytes;
  const fits = totalBytes <= limitBytes;
  const est: ComposeEstimate = {
    taskVectorBytes: c.taskVectorBytes,
    totalBytes,
    limitBytes,
    fits,
    blocks: tv.blocks.length,
    unchangedTensors: tv.unchanged.length,
    coefficients: tv.blocks.length * T * settings.groups,
  };
  if (!fits) {
    const each = c.taskVectorBytes / T;
    const drop = Math.ceil((totalBytes - limitBytes) / each);
    est.message =
      drop >= T
        ? `Composing needs about ${mib(totalBytes)} of GPU memory (${mib(c.taskVectorBytes)} of it the ${T} task vectors, ${mib(each)} each), but the limit is ${mib(limitBytes)}: even one task vector does not fit beside the model at batch ${settings.batchSize}. Use a smaller batch or a smaller base model.`
        : `Composing needs about ${mib(totalBytes)} of GPU memory (${mib(c.taskVectorBytes)} of it the ${T} task vectors, ${mib(each)} each, all resident), but the limit is ${mib(limitBytes)}. Drop ${drop} of the runs (e.g. ${members.slice(T - drop).map((m) => m.name).join(', ')}) and compose ${T - drop} or fewer.`;
  }
  return est;
}

/**
 * GPU memory the composition will take, before it starts: the T task vectors and a copy of θ₀ per
 * composed block (resident for the whole run), the model, the head's optimizer, one step's
 * activations, and ∂L/∂θ of every block. Also checks the members against the base
 * (ComposeInputError naming the run and the tensor).
 */
export function estimateCompose(base: Checkpoint, members: ComposeMember[], settings: ComposeSettings, limitBytes: number): ComposeEstimate {
  const s = { ...COMPOSE_DEFAULTS, ...settings };
  checkComposeHead(base, s);
  const tv = buildTaskVectors(base, members.map((m) => ({ name: m.name, checkpoint: m.checkpoint, method: m.method })), { imagePath: imagePathOf(s) });
  const numLabels = parseConfig(base.config, `${base.source}/config.json`, base.tensors.keys()).labels?.length ?? 10;
  return estimateFor(tv.spec, tv, members, s, numLabels, limitBytes);
}

/** The trainer's config for a head trained with the composition's recipe (steps 0: evaluate only, under a frozen zero-shot head). */
function headRecipe(s: ComposeSettings, steps: number): Partial<TrainConfig> & Pick<TrainConfig, 'method' | 'targets'> {
  return {
    method: 'probe',
    targets: [],
    head: s.head ?? 'linear',
    steps,
    batchSize: s.batchSize,
    lr: s.lr,
    headLr: s.headLr,
    weightDecay: s.weightDecay,
    warmupSteps: s.warmupSteps,
    clipNorm: s.clip,
    seed: s.seed,
    logEvery: Math.max(1, Math.round(steps / 40)),
    evalEvery: s.evalEvery ?? Math.max(1, steps),
  };
}

/** The base checkpoint's tensors without its head, so every phase starts from the same new, seeded head. */
function withoutHead(base: Checkpoint): Checkpoint['tensors'] {
  return new Map([...base.tensors].filter(([n]) => !n.startsWith(`${HEAD_MODULE}.`)));
}

/** A member's accuracy with its own head on `data`'s validation images, or null with why. */
async function memberAccuracy(ctx: GpuContext, m: ComposeMember, data: PreparedData, batchSize: number): Promise<{ accuracy: number | null; note?: string }> {
  const C = data.classNames.length;
  const spec = parseConfig(m.checkpoint.config, `${m.checkpoint.source}/config.json`, m.checkpoint.tensors.keys());
  const zs = m.checkpoint.tensors.get(ZERO_SHOT_HEAD);
  const head = zs ?? m.checkpoint.tensors.get(`${HEAD_MODULE}.weight`);
  if (!head) return { accuracy: null, note: 'its merged model has no head' };
  if (head.shape[0] !== C) return { accuracy: null, note: `its head has ${head.shape[0]} classes, the data ${C}` };
  if (spec.labels && spec.labels.length === C && spec.labels.some((l, i) => l !== data.classNames[i])) {
    return { accuracy: null, note: `its head's classes (${spec.labels.join(', ')}) are not the data's (${data.classNames.join(', ')})` };
  }
  const model = new VisionTransformer(ctx, spec, m.checkpoint.tensors, { numLabels: C, seed: 0, source: m.checkpoint.source, ...(zs ? { zeroShot: { weight: zs.data } } : {}) });
  const trainer = new Trainer(model, data, normalisationFor(spec, m.checkpoint), { method: 'probe', targets: [], head: zs ? 'zeroshot' : 'linear', steps: zs ? 0 : 1, batchSize });
  try {
    return { accuracy: (await trainer.evaluate()).accuracy };
  } finally {
    trainer.release();
    model.release();
  }
}

/** θ of one block in float64 from θ₀, the members' θ_t and λ, rounded once to f32: what the export holds. */
function composedBlock(b: TaskVectorBlock, index: number, lambda: Float32Array, groups: number, seed: number): Float32Array {
  const T = b.thetas.length;
  const tau = new Float64Array(T * b.n);
  b.thetas.forEach((th, t) => {
    for (let e = 0; e < b.n; e++) tau[t * b.n + e] = th[e] - b.theta0[e];
  });
  return Float32Array.from(composeBlock64({ block: index, n: b.n, tasks: T, groups, seed }, b.theta0, tau, lambda));
}

/**
 * Learns the composition of `members`' task vectors on `data` (training split), then measures it,
 * the base and the plain sum (same head recipe and steps) and each member on the validation split.
 * Throws ComposeInputError for members that do not fit the base or the GPU.
 */
export async function composeRuns(
  ctx: GpuContext,
  base: Checkpoint,
  members: ComposeMember[],
  data: PreparedData,
  settings: ComposeSettings,
  hooks: { onProgress?: (p: ComposeProgress) => void; shouldStop?: () => boolean } = {},
): Promise<ComposeResult> {
  const started = performance.now();
  const s: ComposeSettings = { ...COMPOSE_DEFAULTS, ...settings };
  checkSettings(s);
  checkComposeHead(base, s);
  const headKind: HeadKind = s.head ?? 'linear';
  const tv = buildTaskVectors(base, members.map((m) => ({ name: m.name, checkpoint: m.checkpoint, method: m.method })), { imagePath: imagePathOf(s) });
  const T = members.length;
  const C = data.classNames.length;
  const limits = ctx.device.limits;
  const maxBinding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  for (const b of tv.blocks) {
    if (4 * T * b.n > maxBinding) {
      const fit = Math.floor(maxBinding / (4 * b.n));
      throw new ComposeInputError(
        `The task vectors of "${b.hfName}" (${T} × ${b.n} values, ${mib(4 * T * b.n)}) do not fit one GPU buffer (at most ${mib(maxBinding)} here). Compose at most ${fit} runs on this GPU: drop ${T - fit} (e.g. ${members.slice(fit).map((m) => m.name).join(', ')}).`,
      );
    }
  }
  const est = estimateFor(tv.spec, tv, members, s, C, ctx.pool.limitBytes ?? Number.POSITIVE_INFINITY);
  if (!est.fits) throw new ComposeInputError(est.message!);
  await loadMethod('probe');
  const norm = normalisationFor(tv.spec, base);
  const weights = withoutHead(base);
  const stop = hooks.shouldStop;
  // A zero-shot head: the text tower reads class names × templates once, for every phase.
  let zeroShot: { weight: Float32Array } | undefined;
  if (headKind !== 'linear') {
    const names = s.classNames?.length === C ? s.classNames : data.classNames;
    try {
      zeroShot = { weight: (await zeroShotHead(ctx, base, names, s.templates ?? DEFAULT_TEMPLATES)).weight };
    } catch (e) {
      throw new ComposeInputError(`A zero-shot head for the composition: ${(e as Error).message}`);
    }
  }
  const buildModel = () => new VisionTransformer(ctx, tv.spec, weights, { numLabels: C, seed: s.seed, source: base.source, ...(zeroShot ? { zeroShot: { weight: zeroShot.weight.slice() } } : {}) });

  // 1. The composition: λ from 0, with a new head.
  const curve: ComposeResult['curve'] = [];
  const onMetric = (phase: ComposeProgress['phase'], keep: boolean) => (m: MetricRecord) => {
    if (m.kind === 'train') {
      if (keep) curve.push({ step: m.step, loss: m.loss });
      hooks.onProgress?.({ phase, step: m.step, loss: m.loss });
    } else {
      if (keep) {
        const at = curve.find((p) => p.step === m.step);
        if (at) at.valAccuracy = m.val_accuracy;
        else curve.push({ step: m.step, loss: Number.NaN, valAccuracy: m.val_accuracy });
      }
      hooks.onProgress?.({ phase, step: m.step, valAccuracy: m.val_accuracy });
    }
  };
  let model = buildModel();
  const extras = new Map(model.extras);
  let lambda: Float32Array;
  let headW: Float32Array;
  let headB: Float32Array | undefined;
  let finalValAccuracy: number;
  let steps: number;
  let trainables: string[];
  {
    const comp = new Composition(ctx, model, tv.blocks, s.groups, s.seed);
    const trainer = new Trainer(model, data, norm, headRecipe(s, s.steps), { transform: comp });
    trainables = trainer.trainables.map((t) => t.name);
    try {
      const r = await trainer.run({ onMetric: onMetric('compose', true), shouldStop: stop });
      if (r.status === 'diverged') throw new Error(`The composition diverged: ${r.divergence?.message ?? ''}`);
      finalValAccuracy = r.final_val_accuracy;
      steps = r.steps;
      lambda = await comp.lambda.read();
      headW = await model.param(`${HEAD_MODULE}.weight`).read();
      // A zero-shot head's bias is 0 by construction and not exported (zero_shot_head.weight only).
      headB = zeroShot ? undefined : await model.param(`${HEAD_MODULE}.bias`).read();
    } finally {
      trainer.release();
      comp.release();
      model.release();
    }
  }

  // 2. and 3. The base (λ = 0) and the plain sum (λ = 1), each with the same kind of head trained as
  // long by the same recipe; a frozen zero-shot head trains nothing, so they are evaluated as they are
  // (the base is then exactly CLIP zero-shot).
  const baseline = async (phase: 'base' | 'sum'): Promise<number> => {
    model = buildModel();
    const fixed = phase === 'sum' ? new Composition(ctx, model, tv.blocks, s.groups, s.seed, { init: 1, learn: false }) : undefined;
    fixed?.apply();
    const trainer = new Trainer(model, data, norm, headRecipe(s, headKind === 'zeroshot' ? 0 : Math.max(1, steps)));
    try {
      if (headKind === 'zeroshot') {
        const acc = (await trainer.evaluate()).accuracy;
        hooks.onProgress?.({ phase, step: 0, valAccuracy: acc });
        return acc;
      }
      return (await trainer.run({ onMetric: onMetric(phase, false) })).final_val_accuracy;
    } finally {
      trainer.release();
      fixed?.release();
      model.release();
    }
  };
  const baseAccuracy = await baseline('base');
  const sumAccuracy = await baseline('sum');

  // 4. Each member with its own head, on the same validation images.
  const memberRows: ComposeResult['members'] = [];
  for (const [i, m] of members.entries()) {
    hooks.onProgress?.({ phase: 'members', step: i + 1 });
    memberRows.push({ name: m.name, ...(await memberAccuracy(ctx, m, data, s.batchSize)) });
  }

  // The composed model: θ₀ + Σ λ·τ in float64 per block, θ₀ elsewhere, and the head.
  const merged = new Map<string, Float32Array>();
  const mergedShapes = new Map<string, number[]>();
  const blockIndex = new Map(tv.blocks.map((b, i) => [b.name, i]));
  const imagePath = new Map(imagePathOf(s).filter((n) => weights.has(n)).map((n) => [n, [...weights.get(n)!.shape]] as const));
  for (const [name, shape] of [...expectedTensors(tv.spec), ...imagePath]) {
    const i = blockIndex.get(name);
    const hf = imagePath.has(name) ? name : classificationName(tv.spec, name);
    merged.set(hf, i !== undefined ? composedBlock(tv.blocks[i], i, lambda, s.groups, s.seed) : weights.get(name)!.data);
    mergedShapes.set(hf, [...shape]);
  }
  // A full CLIP's text tower, projections and logit_scale, as loaded (CLIPForImageClassification ignores them).
  for (const [name, w] of extras) {
    if (merged.has(name)) continue;
    merged.set(name, w.data);
    mergedShapes.set(name, [...w.shape]);
  }
  if (zeroShot) {
    // The io/peft merged export's convention: CLIPModel, the head under a name no transformers class claims.
    merged.set(ZERO_SHOT_HEAD, headW);
    mergedShapes.set(ZERO_SHOT_HEAD, [C, headW.length / C]);
  } else {
    merged.set(`${HEAD_MODULE}.weight`, headW);
    merged.set(`${HEAD_MODULE}.bias`, headB!);
    mergedShapes.set(`${HEAD_MODULE}.weight`, [C, tv.spec.hidden]);
    mergedShapes.set(`${HEAD_MODULE}.bias`, [C]);
  }

  const K = s.groups;
  return {
    finalValAccuracy,
    baseAccuracy,
    sumAccuracy,
    members: memberRows,
    coefficients: {
      taskVectors: members.map((m) => m.name),
      blocks: tv.blocks.map((b) => b.hfName),
      layerOf: tv.blocks.map((b) => b.layer),
      groups: K,
      values: members.map((_, t) => tv.blocks.map((_, b) => Array.from(lambda.subarray((b * T + t) * K, (b * T + t + 1) * K)))),
    },
    curve,
    merged,
    mergedShapes,
    unchangedTensors: tv.unchanged,
    steps,
    trainables,
    settings: s,
    seconds: (performance.now() - started) / 1000,
  };
}

/** What composition.json and the merged export need to know that the result does not. */
export interface ComposeExportInfo {
  /** The base model's Hub id or folder. */
  baseModel: string;
  /** Class names in label order. */
  labels: readonly string[];
  members: ReadonlyArray<Pick<ComposeMember, 'name' | 'fingerprint'>>;
}

/**
 * The composed model as a Hugging Face checkpoint transformers loads (config.json with the new
 * labels, model.safetensors, the base's preprocessor_config.json and, for a full CLIP, its
 * tokenizer files), plus composition.json: coefficients [task][block][group], block names, the
 * members and their fingerprints, K and the seed.
 */
export function composeExportFiles(base: Checkpoint, result: ComposeResult, info: ComposeExportInfo): { merged: Map<string, Uint8Array>; composition: Uint8Array } {
  const spec = parseConfig(base.config, `${base.source}/config.json`, base.tensors.keys());
  const utf8 = (s: string) => new TextEncoder().encode(s);
  const files = new Map<string, Uint8Array>();
  const zeroShot = result.merged.has(ZERO_SHOT_HEAD);
  files.set('config.json', utf8(hfJson(mergedConfig(spec, info.labels, zeroShot))));
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, data] of result.merged) tensors.set(name, { shape: result.mergedShapes.get(name)!, data });
  files.set('model.safetensors', writeSafetensors(tensors, { metadata: { format: 'pt' } }));
  files.set('preprocessor_config.json', utf8(hfJson(base.preprocessor.raw ?? preprocessorConfig(spec.family, spec.imageSize, spec.channels))));
  if (base.tokenizer?.json && [...result.merged.keys()].some((n) => n.startsWith('text_model.'))) {
    files.set('tokenizer.json', utf8(`${JSON.stringify(base.tokenizer.json, null, 2)}\n`));
    if (base.tokenizer.config) files.set('tokenizer_config.json', utf8(`${JSON.stringify(base.tokenizer.config, null, 2)}\n`));
  }
  const composition = {
    format: 'rankscope-composition',
    format_version: 1,
    method: 'aTLAS',
    formula: 'theta[b] = theta0[b] + sum_t coefficients[t][b][g_b(e)] * (theta_t[b] - theta0[b])',
    base_model: info.baseModel,
    head: result.settings.head ?? 'linear',
    ...(zeroShot ? { head_note: `Zero-shot head: ${ZERO_SHOT_HEAD} in model.safetensors (classes × projection_dim, logit_scale folded in); logits = normalize(CLIPModel.get_image_features(x)) @ head.T.`, templates: result.settings.templates ?? [...DEFAULT_TEMPLATES] } : {}),
    groups: result.coefficients.groups,
    seed: result.settings.seed,
    group_rule:
      result.coefficients.groups > 1
        ? 'g_b(e) = rand_u32(seed, (0xc0b0 + b * 0x10000) mod 2^32, e) mod K, the lowbias32 counter hash of src/engine/random.ts, b = the block index in "blocks"'
        : 'K = 1: every element of a block in group 0',
    members: info.members.map((m) => ({ run: m.name, fingerprint: m.fingerprint ?? null })),
    blocks: result.coefficients.blocks,
    layers: result.coefficients.layerOf,
    unchanged_tensors: result.unchangedTensors,
    unchanged_note: 'Backbone tensors no member changed carry no coefficient (their task vectors are all zero); the composed model keeps their base values.',
    coefficients: result.coefficients.values,
    accuracy: { composed: result.finalValAccuracy, base: result.baseAccuracy, sum: result.sumAccuracy, members: result.members },
  };
  return { merged: files, composition: utf8(`${JSON.stringify(composition, null, 2)}\n`) };
}
