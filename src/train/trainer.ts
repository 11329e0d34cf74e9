import { methodById, methodRuntime, resolvedConfig, type AdapterSet, type MethodId } from '../methods/registry';
import { crossEntropy, labelTensor, readStats, STATS_SIZE } from '../engine/ops/crossEntropy';
import { GRAD_NORM_SIZE, readGradNorm } from '../engine/ops/optimizer';
import { FlatAdamW } from './flatAdamW';
import { hasAugmentation, preprocessImages, type Augmentation, type Normalisation } from '../engine/ops/preprocess';
import { Tape } from '../engine/tape';
import { Tensor } from '../engine/tensor';
import { outOfMemoryForRun } from '../gpu/outOfMemory';
import { HEAD_MODULE } from '../models/names';
import type { VisionTransformer } from '../models/vision';
import type { HeadKind } from '../models/zeroShot';
import { BatchSampler, batchImageBytes, gatherBatch, squarePlan, type BatchOptions, type PackedImages, type ProcessorPlan, type SamplerPosition } from './data';
import { learningRate } from './schedule';
import { autotuneMatmuls, loadTuning, pendingClasses, type AutotuneReport } from '../engine/tuning/matmulTuner';
import { decidePrecision, type PrecisionReport } from './precision';

export interface TrainConfig {
  method: MethodId;
  /** The method's own settings (rank, alpha, …); its defaults fill what is missing. */
  methodConfig?: Record<string, unknown>;
  /** PEFT-style target module names; ignored by full fine-tuning and the probe. */
  targets: string[];
  steps: number;
  batchSize: number;
  lr: number;
  /** Learning rate of the classification head; defaults to `lr`. */
  headLr?: number;
  weightDecay: number;
  warmupSteps: number;
  /** Clip the global gradient norm to this (0: no clipping). */
  clipNorm: number;
  /** Micro-batches whose gradients are summed into one update. */
  accumulation: number;
  labelSmoothing: number;
  seed: number;
  /** Log the training loss every this many steps (the only per-step readback). */
  logEvery: number;
  /** Evaluate on the validation set every this many steps, and always at the end. */
  evalEvery: number;
  /** Random resized crop and/or horizontal flip of training images (never of validation images); off when absent. */
  augment?: Augmentation;
  /**
   * CLIP's classification head: 'linear' (default) trains a new one; 'zeroshot' keeps the
   * zero-shot head frozen; 'zeroshot-init' trains it from there. The model must be built with
   * the matching head (session/zeroShot.ts); steps = 0 with a frozen head is a zero-shot run.
   */
  head?: HeadKind;
  /** Prompt templates of a zero-shot head ("{}" is the class name); the default prompt when absent. */
  templates?: string[];
  /** Class names the zero-shot head reads instead of the data set's (e.g. typed over IDX's bare numbers). */
  classNames?: string[];
}

export const TRAIN_DEFAULTS: Omit<TrainConfig, 'method' | 'targets'> = {
  steps: 100,
  batchSize: 16,
  lr: 1e-3,
  weightDecay: 0.01,
  warmupSteps: 10,
  clipNorm: 1,
  accumulation: 1,
  labelSmoothing: 0,
  seed: 0,
  logEvery: 5,
  evalEvery: 25,
};

export type MetricRecord =
  | { kind: 'train'; step: number; loss: number; accuracy: number; lr: number; grad_norm: number; images_per_second: number; seconds: number }
  | { kind: 'eval'; step: number; val_loss: number; val_accuracy: number; seconds: number };

export interface EvalResult {
  loss: number;
  accuracy: number;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

/** Non-finite steps in a row after which a run counts as diverged. */
export const DIVERGENCE_PATIENCE = 3;

/** Why a run stopped on its own before its last step. */
export interface Divergence {
  /** The step at which the third non-finite step in a row happened. */
  step: number;
  /** The peak learning rate of the run. */
  lr: number;
  /** Updates skipped because their gradients were not finite. */
  skipped_steps: number;
  /** What happened and what to try, for a person. */
  message: string;
}

export interface TrainSummary {
  /** 'diverged' when training stopped on non-finite losses or gradients (see `divergence`). */
  status: 'done' | 'diverged';
  method: MethodId;
  head: HeadKind;
  trainable_params: number;
  steps: number;
  final_val_accuracy: number;
  best_val_accuracy: number;
  final_val_loss: number;
  seconds: number;
  seconds_per_step: number;
  peak_gpu_bytes: number;
  confusion: number[][];
  divergence?: Divergence;
}

interface Trainable {
  name: string;
  tensor: Tensor;
  decay: boolean;
  head: boolean;
  /** Owned by the run's ParamTransform: its gradient comes from `gradients`, not from the tape. */
  transformed?: boolean;
}

/**
 * A differentiable map from trainables of its own to some of the model's tensors, applied before
 * every forward pass: aTLAS's composition θ = θ₀ + Σ λ·τ (src/compose/) is one. The trainer runs
 * `apply()` before each step and each evaluation, tracks `writes` on the tape (so the backward
 * produces ∂L/∂θ for them, as under full fine-tuning), hands those gradients to `gradients`, and
 * updates the transform's trainables with AdamW at the run's `lr` (the head keeps `headLr`).
 * Without a transform nothing in a step changes.
 */
export interface ParamTransform {
  /** Its trainables (e.g. the composition coefficients), checkpointed with the run's. */
  readonly trainables: ReadonlyArray<{ name: string; tensor: Tensor; decay: boolean }>;
  /** Model tensors it writes; none of them may be a trainable of the run itself. */
  readonly writes: readonly Tensor[];
  /** Writes `writes` from the trainables' current values (GPU launches only). */
  apply(): void;
  /**
   * The gradients of its trainables, in `trainables` order, from the gradients of `writes` (same
   * order; undefined where none reached one). The returned tensors are new and the caller's.
   */
  gradients(dWrites: ReadonlyArray<Tensor | undefined>): Tensor[];
}

/** What a Trainer takes besides its (plain data) config. */
export interface TrainerOptions {
  transform?: ParamTransform;
}

/**
 * Everything a run needs to continue exactly where it stopped: the trainable tensors and their
 * AdamW moments, the step, the sampler's place, the GPU-side loss statistics and divergence
 * counters, and the best validation accuracy so far. Learning rates and augmentation crops are
 * functions of (seed, step), and frozen bases and the head's init of the seed, so they need no saving.
 */
export interface TrainerState {
  step: number;
  sampler: SamplerPosition;
  imagesSinceLog: number;
  bestValAccuracy: number;
  /** Seconds trained before this state was saved, so times keep counting across a resume. */
  seconds: number;
  /** By name: each trainable, `${name}${ADAM_M}`, `${name}${ADAM_V}`, and the two GPU counters. */
  tensors: Map<string, Float32Array>;
}

export const STATE_KEYS = { adamM: '#adam_m', adamV: '#adam_v', health: '#health', trainStats: '#train_stats' } as const;

export interface TrainerHooks {
  onMetric?: (m: MetricRecord) => void;
  /** Awaited after each optimizer step (e.g. to save a checkpoint every N steps). */
  afterStep?: (step: number) => Promise<void> | void;
  /** Checked between steps: return true to stop early (the run then evaluates and finishes). */
  shouldStop?: () => boolean;
  /** Awaited between steps, so a caller can pause a run. */
  beforeStep?: (step: number) => Promise<void> | void;
  /**
   * Called when GEMM tilings were tuned after this run's first step (autotuning on for the
   * device and shape classes not in the store): what was measured, in how long.
   */
  onAutotune?: (report: AutotuneReport) => void;
  /** Called before the first step with the precision the run trains in (mixed or f32) and why. */
  onPrecision?: (report: PrecisionReport) => void;
}

/** HF's recipe: no weight decay on biases, norms and embeddings-like vectors; decay on matrices. */
function decays(name: string, t: Tensor): boolean {
  return t.shape.length >= 2 && !name.includes('embeddings') && !name.includes('embedding');
}

/**
 * One training run: a model, a method's adapters, data, and AdamW with warmup + cosine. GPU
 * buffers come from the context's pool, so after the first step every allocation is a reuse.
 */
export class Trainer {
  readonly adapters: AdapterSet;
  readonly trainables: Trainable[];
  /** AdamW moments of every trainable (in `trainables` order) as slices of flat buffers: O(1) launches per update. */
  private readonly optimizer: FlatAdamW;
  readonly config: TrainConfig;
  private readonly sampler: BatchSampler;
  private readonly batchPixels: Uint8Array;
  /** The model's image-processor resize and crop, applied on the CPU as each batch is made. */
  private readonly plan: ProcessorPlan;
  private readonly batchLabels: Int32Array;
  private readonly trainStats: Tensor;
  /** gradNorm's output, kept across steps: it carries the divergence counters (GRAD_NORM). */
  private readonly health: Tensor;
  private readonly transform: ParamTransform | undefined;
  private divergence: Divergence | undefined;
  private step = 0;
  private precision: Promise<PrecisionReport> | undefined;
  private best = 0;
  private secondsBefore = 0;
  private readonly started = performance.now();
  private lastLogTime = performance.now();
  private imagesSinceLog = 0;

  constructor(
    readonly model: VisionTransformer,
    readonly data: { train: PackedImages; trainIndices: number[]; val: PackedImages; valIndices: number[] },
    readonly norm: Normalisation & { processor?: ProcessorPlan },
    config: Partial<TrainConfig> & Pick<TrainConfig, 'method' | 'targets'>,
    options: TrainerOptions = {},
  ) {
    this.config = { ...TRAIN_DEFAULTS, ...config };
    this.transform = options.transform;
    const c = this.config;
    // steps = 0 evaluates only: a zero-shot run, under CLIP's frozen zero-shot head; any other run must train.
    const evaluationOnly = c.steps === 0 && c.head === 'zeroshot';
    if (!((c.steps >= 1 || evaluationOnly) && c.batchSize >= 1 && c.accumulation >= 1)) {
      throw new Error(
        `steps, batch size and accumulation must be at least 1 (got ${c.steps}, ${c.batchSize}, ${c.accumulation}); ` +
          '0 steps is only for a zero-shot evaluation under CLIP\'s frozen zero-shot head',
      );
    }
    const headKind = c.head ?? 'linear';
    if ((headKind !== 'linear') !== model.zeroShot) {
      throw new Error(`The run asks for a ${headKind} head but the model was built with ${model.zeroShot ? 'a zero-shot' : 'a linear'} head.`);
    }
    const headTrains = headKind !== 'zeroshot';
    const method = methodById(c.method);
    const layers = method.usesTargets ? model.targetLayers(c.targets) : [];
    // The caller has loaded the method's GPU half (await loadMethod(c.method)).
    this.adapters = methodRuntime(c.method).create(model.ctx, resolvedConfig(c.method, c.methodConfig), layers, c.seed);
    const list: Trainable[] = [];
    for (const [name, t] of model.params) {
      const head = name.startsWith(`${HEAD_MODULE}.`);
      // A zero-shot head's bias stays 0: the head is logit_scale·⟨x, class⟩, as in CLIP.
      if (head && (!headTrains || (model.zeroShot && name.endsWith('.bias')))) continue;
      if (head || this.adapters.trainsBackbone) list.push({ name, tensor: t, decay: decays(name, t), head });
    }
    for (const a of this.adapters.layers.values()) {
      for (const t of a.trainables) list.push({ name: `${a.module}.${t.key}`, tensor: t.tensor, decay: t.decay, head: false });
    }
    if (this.transform) {
      const own = new Set(list.map((t) => t.tensor));
      const clash = this.transform.writes.find((w) => own.has(w));
      if (clash) {
        this.adapters.release();
        throw new Error(`A parameter transform writes "${clash.label}", which this run also trains; train the head alone (method probe) under a transform.`);
      }
      for (const t of this.transform.trainables) list.push({ name: t.name, tensor: t.tensor, decay: t.decay, head: false, transformed: true });
    }
    if (c.steps > 0 && list.length === 0 && ![...this.adapters.layers.values()].some((a) => a.trainables.length)) {
      this.adapters.release();
      throw new Error(`${method.label} with a frozen zero-shot head trains nothing. Pick another method, the "zero-shot, then trained" head, or run zero-shot alone (no training).`);
    }
    this.trainables = list;
    this.optimizer = new FlatAdamW(model.ctx, list.map((t) => t.tensor));
    this.sampler = new BatchSampler(data.trainIndices, c.batchSize, c.seed);
    this.plan = norm.processor ?? squarePlan(norm.size);
    this.batchPixels = new Uint8Array(c.batchSize * batchImageBytes(data.train, this.plan));
    this.batchLabels = new Int32Array(c.batchSize);
    this.trainStats = Tensor.zeros(model.ctx, [STATS_SIZE], 'train-stats');
    this.health = Tensor.zeros(model.ctx, [GRAD_NORM_SIZE], 'grad-norm-health');
  }

  /** Set once a log step has seen DIVERGENCE_PATIENCE non-finite steps in a row; the run then stops. */
  get diverged(): Divergence | undefined {
    return this.divergence;
  }

  get trainableParams(): number {
    return this.trainables.reduce((n, t) => n + t.tensor.size, 0);
  }

  get currentStep(): number {
    return this.step;
  }

  private elapsed(): number {
    return this.secondsBefore + (performance.now() - this.started) / 1000;
  }

  /** Reads the run's state from the GPU (between steps) for a checkpoint. */
  async saveState(): Promise<TrainerState> {
    const tensors = new Map<string, Float32Array>();
    for (const [i, t] of this.trainables.entries()) {
      tensors.set(t.name, await t.tensor.read());
      const { m, v } = await this.optimizer.readState(i);
      tensors.set(`${t.name}${STATE_KEYS.adamM}`, m);
      tensors.set(`${t.name}${STATE_KEYS.adamV}`, v);
    }
    tensors.set(STATE_KEYS.health, await this.health.read());
    tensors.set(STATE_KEYS.trainStats, await this.trainStats.read());
    return { step: this.step, sampler: this.sampler.position, imagesSinceLog: this.imagesSinceLog, bestValAccuracy: this.best, seconds: this.elapsed(), tensors };
  }

  /**
   * Puts a saved state back into a trainer built with the same model, method, settings and data,
   * before its first step; throws naming the first tensor that does not fit.
   */
  restoreState(state: TrainerState): void {
    if (this.step !== 0) throw new Error('restoreState: the trainer has already trained; restore into a fresh one');
    if (!(Number.isInteger(state.step) && state.step >= 0 && state.step <= this.config.steps)) {
      throw new Error(`the checkpoint is at step ${state.step}, outside this run's ${this.config.steps} steps`);
    }
    const get = (name: string, size: number): Float32Array => {
      const v = state.tensors.get(name);
      if (!v) throw new Error(`the checkpoint has no tensor "${name}": it was saved by another method or settings`);
      if (v.length !== size) throw new Error(`the checkpoint's "${name}" holds ${v.length} values, this run's has ${size}: it was saved by another model or settings`);
      return v;
    };
    const put = (name: string, t: Tensor) => t.ctx.upload(t.buffer, get(name, t.size));
    for (const [i, t] of this.trainables.entries()) {
      put(t.name, t.tensor);
      const n = t.tensor.size;
      this.optimizer.writeState(i, get(`${t.name}${STATE_KEYS.adamM}`, n), get(`${t.name}${STATE_KEYS.adamV}`, n));
    }
    put(STATE_KEYS.health, this.health);
    put(STATE_KEYS.trainStats, this.trainStats);
    this.sampler.restore(state.sampler);
    this.step = state.step;
    this.imagesSinceLog = state.imagesSinceLog;
    this.best = state.bestValAccuracy;
    this.secondsBefore = state.seconds;
  }

  private uploadBatch(set: PackedImages, indices: number[], pixels: Uint8Array, labels: Int32Array, options: BatchOptions): { images: Tensor; labels: Tensor } {
    gatherBatch(set, indices, pixels, labels, options);
    const n = indices.length;
    const { height, width } = this.plan.inputSize;
    // The CPU made each image at the processor's input size; the GPU rescales and normalises
    // (and resizes only if the processor's input differs from the model's image size).
    const images = preprocessImages(
      this.model.ctx,
      pixels.subarray(0, n * batchImageBytes(set, this.plan)),
      { batch: n, height, width, channels: set.channels },
      this.norm,
    );
    return { images, labels: labelTensor(this.model.ctx, labels.subarray(0, n), this.model.numLabels) };
  }

  /** One optimizer step (over `accumulation` micro-batches). */
  async trainStep(hooks: TrainerHooks = {}): Promise<void> {
    const c = this.config;
    const ctx = this.model.ctx;
    this.step++;
    const opt = this.optimizer;
    const index = new Map(this.trainables.map((t, i) => [t, i]));
    const transform = this.transform;
    transform?.apply();
    for (let micro = 0; micro < c.accumulation; micro++) {
      const tape = new Tape();
      for (const t of this.trainables) if (!t.transformed) tape.track(t.tensor);
      if (transform) for (const w of transform.writes) tape.track(w);
      const indices = this.sampler.next();
      // Augmentation is seeded by (seed, micro-batch counter, image index): reproducible per run.
      const batch = this.uploadBatch(this.data.train, indices, this.batchPixels, this.batchLabels, {
        plan: this.plan,
        augment: hasAugmentation(c.augment) ? c.augment : undefined,
        seed: c.seed,
        step: (this.step - 1) * c.accumulation + micro,
      });
      const logits = this.model.forward(tape, batch.images, this.adapters);
      const ce = crossEntropy(logits, batch.labels, {
        smoothing: c.labelSmoothing,
        gradScale: 1 / c.accumulation,
        stats: this.trainStats,
        accumulateStats: true,
      });
      tape.backward(logits, ce.dlogits!);
      // Each gradient goes into its slice of the optimizer's flat buffer (a copy); later
      // micro-batches are summed into it with one launch at the micro-batch's end.
      const add = (t: Trainable, g: Tensor) => opt.addGrad(index.get(t)!, g);
      for (const t of this.trainables) {
        if (t.transformed) continue;
        const g = tape.takeGrad(t.tensor);
        if (g) add(t, g);
      }
      if (transform) {
        const dWrites = transform.writes.map((w) => tape.takeGrad(w));
        const own = this.trainables.filter((t) => t.transformed);
        transform.gradients(dWrites).forEach((g, i) => add(own[i], g));
        for (const d of dWrites) d?.release();
      }
      opt.endMicroBatch();
      tape.clear(this.trainables.map((t) => t.tensor));
      ce.losses.release();
      ce.predictions.release();
      batch.images.release();
      batch.labels.release();
      this.imagesSinceLog += c.batchSize;
    }
    const lr = learningRate({ peak: c.lr, warmupSteps: c.warmupSteps, totalSteps: c.steps }, this.step - 1);
    const headLr = learningRate({ peak: c.headLr ?? c.lr, warmupSteps: c.warmupSteps, totalSteps: c.steps }, this.step - 1);
    // The norm kernel flags non-finite gradients (a non-finite loss makes them so) and AdamW then
    // skips the update on the GPU, so weights stay finite without a readback per step.
    // One launch each for the norm's partial sums, its final sum and the update of every
    // trainable (each with its group's lr and decay); tensors no gradient reached stay as they are.
    const norm = opt.gradNorm({
      maxNorm: c.clipNorm,
      out: this.health,
      health: { step: this.step, patience: DIVERGENCE_PATIENCE },
    });
    const trainables = this.trainables;
    opt.update((i) => ({ lr: trainables[i].head ? headLr : lr, weightDecay: trainables[i].decay ? c.weightDecay : 0 }), { step: this.step, clip: norm });
    if (this.step % c.logEvery === 0 || this.step === c.steps) {
      const stats = await readStats(this.trainStats);
      const { norm: gn, divergedAt, badSteps } = await readGradNorm(norm);
      if (divergedAt > 0) this.divergence = divergenceOf(divergedAt, c.lr, badSteps);
      const now = performance.now();
      hooks.onMetric?.({
        kind: 'train',
        step: this.step,
        loss: stats.meanLoss,
        accuracy: stats.accuracy,
        lr,
        grad_norm: gn,
        images_per_second: this.imagesSinceLog / Math.max(1e-9, (now - this.lastLogTime) / 1000),
        seconds: this.elapsed(),
      });
      this.lastLogTime = now;
      this.imagesSinceLog = 0;
      ctx.clear(this.trainStats.buffer, 0, STATS_SIZE * 4);
    }
  }

  /**
   * Applies the device's mixed-precision setting (./precision) once: the frozen block linear
   * weights go to f16 if the startup logits check on the first validation images passes. `run`
   * calls this before its first step; call it earlier to evaluate under the same precision.
   */
  async applyPrecision(): Promise<PrecisionReport> {
    const keep = new Set<Tensor>(this.trainables.map((t) => t.tensor));
    for (const w of this.transform?.writes ?? []) keep.add(w);
    this.precision ??= decidePrecision(this.model, this.adapters, keep, () => {
      const set = this.data.valIndices.length ? this.data.val : this.data.train;
      const indices = (this.data.valIndices.length ? this.data.valIndices : this.data.trainIndices).slice(0, Math.min(8, this.config.batchSize));
      const batch = this.uploadBatch(set, indices, new Uint8Array(indices.length * batchImageBytes(set, this.plan)), new Int32Array(indices.length), { plan: this.plan });
      batch.labels.release();
      return batch.images;
    });
    return this.precision;
  }

  /** Loss, accuracy and confusion matrix on the validation indices, in batches, without gradients. */
  async evaluate(indices: readonly number[] = this.data.valIndices): Promise<EvalResult> {
    const set = this.data.val;
    const C = this.model.numLabels;
    const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
    const bs = this.config.batchSize;
    const pixels = new Uint8Array(bs * batchImageBytes(set, this.plan));
    const labels = new Int32Array(bs);
    const stats = Tensor.zeros(this.model.ctx, [STATS_SIZE], 'eval-stats');
    this.transform?.apply();
    for (let i = 0; i < indices.length; i += bs) {
      const chunk = indices.slice(i, i + bs);
      const tape = new Tape();
      const batch = this.uploadBatch(set, chunk, pixels, labels, { plan: this.plan });
      const logits = this.model.forward(tape, batch.images, this.adapters);
      const ce = crossEntropy(logits, batch.labels, { grad: false, stats, accumulateStats: true });
      const predicted = await ce.predictions.read();
      chunk.forEach((_, j) => confusion[labels[j]][predicted[j]]++);
      tape.clear();
      for (const t of [ce.losses, ce.predictions, batch.images, batch.labels]) t.release();
    }
    const s = await readStats(stats);
    stats.release();
    return { loss: s.meanLoss, accuracy: s.accuracy, confusion };
  }

  /**
   * The head's input features and the logits of the current model for some images of a split,
   * read back to the CPU (row i belongs to indices[i]): what an ensemble caches per member.
   */
  async outputs(split: 'train' | 'val', indices: readonly number[]): Promise<{ features: Float32Array; logits: Float32Array; labels: Int32Array }> {
    const set = split === 'train' ? this.data.train : this.data.val;
    const F = this.model.headIn;
    const C = this.model.numLabels;
    const bs = this.config.batchSize;
    const features = new Float32Array(indices.length * F);
    const logits = new Float32Array(indices.length * C);
    const labels = new Int32Array(indices.length);
    const pixels = new Uint8Array(bs * batchImageBytes(set, this.plan));
    const batchLabels = new Int32Array(bs);
    this.transform?.apply();
    for (let i = 0; i < indices.length; i += bs) {
      const chunk = indices.slice(i, i + bs);
      const tape = new Tape();
      const batch = this.uploadBatch(set, chunk, pixels, batchLabels, { plan: this.plan });
      const f = this.model.features(tape, batch.images, this.adapters);
      const y = this.model.head(tape, f);
      features.set(await f.read(), i * F);
      logits.set(await y.read(), i * C);
      labels.set(batchLabels.subarray(0, chunk.length), i);
      tape.clear();
      batch.images.release();
      batch.labels.release();
    }
    return { features, logits, labels };
  }

  /** Trains for the configured steps, evaluating along the way; returns the run's summary. */
  async run(hooks: TrainerHooks = {}): Promise<TrainSummary> {
    const c = this.config;
    let last: EvalResult | undefined;
    const evalNow = async () => {
      last = await this.evaluate();
      this.best = Math.max(this.best, last.accuracy);
      hooks.onMetric?.({ kind: 'eval', step: this.step, val_loss: last.loss, val_accuracy: last.accuracy, seconds: this.elapsed() });
    };
    // Out of memory fails the run with what it needs at this batch, and frees what the failed step held.
    const mark = this.model.ctx.pool.mark();
    const ctx = this.model.ctx;
    let firstStep = true;
    try {
      // Winners stored for this GPU apply from the first step.
      await loadTuning(ctx);
      hooks.onPrecision?.(await this.applyPrecision());
      while (this.step < c.steps) {
        await hooks.beforeStep?.(this.step + 1);
        if (hooks.shouldStop?.()) break;
        await this.trainStep(hooks);
        // The first step has met the model's GEMM shape classes; tune those the store lacks now,
        // between steps and within the budget, and say so (numerics do not change: see matmulTiling).
        if (firstStep && pendingClasses(ctx) > 0) hooks.onAutotune?.({ ...(await autotuneMatmuls(ctx)), afterStep: this.step });
        firstStep = false;
        if (this.divergence) break;
        if (this.step % c.evalEvery === 0 && this.step < c.steps) await evalNow();
        // After the evaluation, so a checkpoint taken here resumes past it rather than skipping it.
        await hooks.afterStep?.(this.step);
      }
      await evalNow();
    } catch (e) {
      throw await outOfMemoryForRun(ctx, mark, e, c.batchSize);
    }
    const seconds = this.elapsed();
    return {
      status: this.divergence ? 'diverged' : 'done',
      method: c.method,
      head: c.head ?? 'linear',
      trainable_params: this.trainableParams,
      steps: this.step,
      final_val_accuracy: last!.accuracy,
      best_val_accuracy: this.best,
      final_val_loss: last!.loss,
      seconds,
      seconds_per_step: seconds / Math.max(1, this.step),
      peak_gpu_bytes: this.model.ctx.pool.peakAllocatedBytes,
      confusion: last!.confusion,
      ...(this.divergence ? { divergence: this.divergence } : {}),
    };
  }

  release(): void {
    this.optimizer.release();
    this.trainStats.release();
    this.health.release();
    this.adapters.release();
  }
}

function divergenceOf(step: number, lr: number, skipped: number): Divergence {
  return {
    step,
    lr,
    skipped_steps: skipped,
    message:
      `Training diverged at step ${step}: the loss or gradients were not finite for ${DIVERGENCE_PATIENCE} steps in a row ` +
      `at peak learning rate ${lr}. Those updates were skipped, so the weights are the last finite ones. ` +
      `Try a learning rate about 10 times smaller (${+(lr / 10).toPrecision(3)}), more warmup steps, or gradient clipping (clip norm 1).`,
  };
}
