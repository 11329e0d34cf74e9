import { methodById, type AdapterSet, type MethodId } from '../adapters';
import { accumulate } from '../engine/ops/elementwise';
import { crossEntropy, labelTensor, readStats, STATS_SIZE } from '../engine/ops/crossEntropy';
import { adamWState, adamWStep, gradNorm, readGradNorm, type AdamWState } from '../engine/ops/optimizer';
import { hasAugmentation, preprocessImages, type Augmentation, type Normalisation } from '../engine/ops/preprocess';
import { Tape } from '../engine/tape';
import { Tensor } from '../engine/tensor';
import { HEAD_MODULE } from '../models/names';
import type { VisionTransformer } from '../models/vision';
import { BatchSampler, batchImageBytes, gatherBatch, squarePlan, type BatchOptions, type PackedImages, type ProcessorPlan } from './data';
import { learningRate } from './schedule';

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

export interface TrainSummary {
  method: MethodId;
  trainable_params: number;
  steps: number;
  final_val_accuracy: number;
  best_val_accuracy: number;
  final_val_loss: number;
  seconds: number;
  seconds_per_step: number;
  peak_gpu_bytes: number;
  confusion: number[][];
}

interface Trainable {
  name: string;
  tensor: Tensor;
  decay: boolean;
  head: boolean;
  state: AdamWState;
}

export interface TrainerHooks {
  onMetric?: (m: MetricRecord) => void;
  /** Checked between steps: return true to stop early (the run then evaluates and finishes). */
  shouldStop?: () => boolean;
  /** Awaited between steps, so a caller can pause a run. */
  beforeStep?: (step: number) => Promise<void> | void;
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
  readonly config: TrainConfig;
  private readonly sampler: BatchSampler;
  private readonly batchPixels: Uint8Array;
  /** The model's image-processor resize and crop, applied on the CPU as each batch is made. */
  private readonly plan: ProcessorPlan;
  private readonly batchLabels: Int32Array;
  private readonly trainStats: Tensor;
  private step = 0;
  private readonly started = performance.now();
  private lastLogTime = performance.now();
  private imagesSinceLog = 0;

  constructor(
    readonly model: VisionTransformer,
    readonly data: { train: PackedImages; trainIndices: number[]; val: PackedImages; valIndices: number[] },
    readonly norm: Normalisation & { processor?: ProcessorPlan },
    config: Partial<TrainConfig> & Pick<TrainConfig, 'method' | 'targets'>,
  ) {
    this.config = { ...TRAIN_DEFAULTS, ...config };
    const c = this.config;
    if (!(c.steps >= 1 && c.batchSize >= 1 && c.accumulation >= 1)) {
      throw new Error(`steps, batch size and accumulation must be at least 1 (got ${c.steps}, ${c.batchSize}, ${c.accumulation})`);
    }
    const method = methodById(c.method);
    const layers = method.usesTargets ? model.targetLayers(c.targets) : [];
    this.adapters = method.create(model.ctx, { ...method.defaults, ...(c.methodConfig ?? {}) }, layers, c.seed);
    const list: Omit<Trainable, 'state'>[] = [];
    for (const [name, t] of model.params) {
      const head = name.startsWith(`${HEAD_MODULE}.`);
      if (head || this.adapters.trainsBackbone) list.push({ name, tensor: t, decay: decays(name, t), head });
    }
    for (const a of this.adapters.layers.values()) {
      for (const t of a.trainables) list.push({ name: `${a.module}.${t.key}`, tensor: t.tensor, decay: t.decay, head: false });
    }
    this.trainables = list.map((t) => ({ ...t, state: adamWState(t.tensor) }));
    this.sampler = new BatchSampler(data.trainIndices, c.batchSize, c.seed);
    this.plan = norm.processor ?? squarePlan(norm.size);
    this.batchPixels = new Uint8Array(c.batchSize * batchImageBytes(data.train, this.plan));
    this.batchLabels = new Int32Array(c.batchSize);
    this.trainStats = Tensor.zeros(model.ctx, [STATS_SIZE], 'train-stats');
  }

  get trainableParams(): number {
    return this.trainables.reduce((n, t) => n + t.tensor.size, 0);
  }

  get currentStep(): number {
    return this.step;
  }

  private elapsed(): number {
    return (performance.now() - this.started) / 1000;
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
    const grads = new Map<Trainable, Tensor>();
    for (let micro = 0; micro < c.accumulation; micro++) {
      const tape = new Tape();
      for (const t of this.trainables) tape.track(t.tensor);
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
      for (const t of this.trainables) {
        const g = tape.takeGrad(t.tensor);
        if (!g) continue;
        const acc = grads.get(t);
        if (acc) {
          accumulate(acc, g);
          g.release();
        } else grads.set(t, g);
      }
      tape.clear(this.trainables.map((t) => t.tensor));
      ce.losses.release();
      ce.predictions.release();
      batch.images.release();
      batch.labels.release();
      this.imagesSinceLog += c.batchSize;
    }
    const lr = learningRate({ peak: c.lr, warmupSteps: c.warmupSteps, totalSteps: c.steps }, this.step - 1);
    const headLr = learningRate({ peak: c.headLr ?? c.lr, warmupSteps: c.warmupSteps, totalSteps: c.steps }, this.step - 1);
    const norm = gradNorm([...grads.values()], { maxNorm: c.clipNorm });
    for (const [t, g] of grads) {
      adamWStep(t.tensor, g, t.state, { lr: t.head ? headLr : lr, step: this.step, weightDecay: t.decay ? c.weightDecay : 0, clip: norm });
      g.release();
    }
    if (this.step % c.logEvery === 0 || this.step === c.steps) {
      const stats = await readStats(this.trainStats);
      const { norm: gn } = await readGradNorm(norm);
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
    norm.release();
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

  /** Trains for the configured steps, evaluating along the way; returns the run's summary. */
  async run(hooks: TrainerHooks = {}): Promise<TrainSummary> {
    const c = this.config;
    let last: EvalResult | undefined;
    let best = 0;
    const evalNow = async () => {
      last = await this.evaluate();
      best = Math.max(best, last.accuracy);
      hooks.onMetric?.({ kind: 'eval', step: this.step, val_loss: last.loss, val_accuracy: last.accuracy, seconds: this.elapsed() });
    };
    while (this.step < c.steps) {
      await hooks.beforeStep?.(this.step + 1);
      if (hooks.shouldStop?.()) break;
      await this.trainStep(hooks);
      if (this.step % c.evalEvery === 0 && this.step < c.steps) await evalNow();
    }
    await evalNow();
    const seconds = this.elapsed();
    return {
      method: c.method,
      trainable_params: this.trainableParams,
      steps: this.step,
      final_val_accuracy: last!.accuracy,
      best_val_accuracy: best,
      final_val_loss: last!.loss,
      seconds,
      seconds_per_step: seconds / Math.max(1, this.step),
      peak_gpu_bytes: this.model.ctx.pool.peakAllocatedBytes,
      confusion: last!.confusion,
    };
  }

  release(): void {
    for (const t of this.trainables) {
      t.state.m.release();
      t.state.v.release();
    }
    this.trainStats.release();
    this.adapters.release();
  }
}
