import { loadMethod, METHODS, type MethodId } from '../methods/registry';
import type { Checkpoint } from '../io/checkpoint';
import { copy } from '../engine/ops/elementwise';
import type { Tensor } from '../engine/tensor';
import type { GpuContext } from '../gpu/context';
import type { Normalisation } from '../engine/ops/preprocess';
import type { PackedImages } from '../train/data';
import { adapterDelta, spectrumOf, weightDelta, type Spectrum } from '../train/rank';
import { Trainer, type MetricRecord, type TrainConfig, type TrainSummary } from '../train/trainer';
import { withKShot } from './kShotData';
import type { VisionTransformer } from '../models/vision';
import { buildRunModel } from './zeroShot';
import { analyseLayers, analysedModules, releaseSnapshot, snapshotWeights, type LayerAnalysis } from '../train/layerAnalysis';
import { exportAdapterZip, exportMergedZip, hasAdapterExport } from '../io/peft';

async function runExports(trainer: Trainer, ckpt: Checkpoint, labels: string[], baseModel: string): Promise<RunExports> {
  const info = { baseModel, labels, preprocessor: ckpt.preprocessor.raw, tokenizer: ckpt.tokenizer };
  const files: RunExports = {};
  try {
    if (hasAdapterExport(trainer.config.method)) files.adapter = await exportAdapterZip(trainer, info);
    if (trainer.model.parameterCount() <= MERGED_EXPORT_LIMIT) files.merged = await exportMergedZip(trainer, info);
    else files.note = 'The merged model is too large to keep in the page; export the adapter and merge it in Python with PEFT.';
  } catch (e) {
    files.note = `The export could not be made: ${(e as Error).message}`;
  }
  return files;
}

/** What a person asks for: one method with its settings, trained on the lab's model and data. */
export interface RunSpec {
  id: string;
  name: string;
  method: MethodId;
  methodConfig?: Record<string, unknown>;
  targets: string[];
  train: Partial<TrainConfig>;
  /** The layer whose ΔW spectrum is tracked (a module path); the first targeted one by default. */
  rankLayer?: string;
  /** Compute the spectrum every this many steps (and at the end). */
  rankEvery?: number;
  /** Train on k images per class of the lab's training split, drawn with this seed (a study's few-shot axis). */
  kShot?: { k: number; seed: number };
  /** Set on a study's runs: the study and the cell (method, budget, seed, k-shot) this run fills. */
  study?: StudyTag;
}

/** Which study cell a run belongs to; kept with the run, so a reloaded page can tell what is done. */
export interface StudyTag {
  id: string;
  key: string;
  budget: number | null;
  seed: number;
  k_shot: number | null;
}

/**
 * configure → load → train ⇄ pause → done / stopped / diverged / failed. A diverged run ended on
 * non-finite losses or gradients: it keeps its results and exports (the last finite weights) and its
 * `error` says at which step, at which learning rate, and what to try.
 */
export type RunState = 'queued' | 'loading' | 'training' | 'paused' | 'done' | 'stopped' | 'diverged' | 'failed';

export interface RunResult extends TrainSummary, Partial<LayerAnalysis> {
  perClassAccuracy: number[];
  classNames: string[];
  /** Why the per-layer ranks and intruders are missing, when their analysis failed (the run itself stands). */
  analysis_error?: string;
}

export type RunEvent =
  | { type: 'state'; runId: string; state: RunState; error?: string }
  | { type: 'info'; runId: string; trainableParams: number; rankLayer: string | undefined }
  | { type: 'metric'; runId: string; metric: MetricRecord }
  | { type: 'spectrum'; runId: string; step: number; spectrum: Spectrum }
  | { type: 'result'; runId: string; result: RunResult }
  | { type: 'exports'; runId: string; files: RunExports };

/** Downloadable files of a finished run, made before its GPU memory is released. */
export interface RunExports {
  /** PEFT's adapter folder (NOLA: our documented format), zipped; none for full fine-tuning and the probe. */
  adapter?: Uint8Array;
  /** The merged Hugging Face checkpoint, zipped; left out for models over MERGED_EXPORT_LIMIT. */
  merged?: Uint8Array;
  /** Why a file is missing, for the person. */
  note?: string;
}

/** Merged checkpoints above this many weights are not kept in memory for download (about 200 MB). */
export const MERGED_EXPORT_LIMIT = 50_000_000;

export interface LabData {
  train: PackedImages;
  trainIndices: number[];
  val: PackedImages;
  valIndices: number[];
  classNames: string[];
}

/**
 * One training run from start to finish: builds a fresh model from the lab's checkpoint (so every
 * run starts from the same weights), trains it, reports metrics and ΔW spectra, and releases its
 * GPU memory at the end whatever happens.
 */
export class RunController {
  state: RunState = 'queued';
  private pauseGate: { promise: Promise<void>; open: () => void } | undefined;
  private stopRequested = false;

  constructor(
    readonly spec: RunSpec,
    private readonly emit: (e: RunEvent) => void,
  ) {}

  private set(state: RunState, error?: string): void {
    this.state = state;
    this.emit({ type: 'state', runId: this.spec.id, state, error });
  }

  pause(): void {
    if (this.state !== 'training' || this.pauseGate) return;
    let open!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    this.pauseGate = { promise, open };
    this.set('paused');
  }

  resume(): void {
    if (!this.pauseGate) return;
    const gate = this.pauseGate;
    this.pauseGate = undefined;
    this.set('training');
    gate.open();
  }

  stop(): void {
    this.stopRequested = true;
    if (this.state === 'queued') this.set('stopped');
    this.resume();
  }

  async run(ctx: GpuContext, ckpt: Checkpoint, data: LabData, norm: Normalisation, baseModel = ckpt.source): Promise<RunResult | undefined> {
    if (this.stopRequested) return undefined;
    // A study's few-shot cell trains on its own k per class, drawn with its seed from the lab's split.
    data = withKShot(data, this.spec.kShot);
    this.set('loading');
    let trainer: Trainer | undefined;
    let start: Tensor | undefined;
    // Full fine-tuning's W0 of every targeted layer, for the end-of-run ranks and intruders.
    let initial: Map<string, Tensor> | undefined;
    // Each run's peak GPU memory is its own: free the buffers earlier runs left in the pool for
    // reuse (after submitting anything still recorded), and count the peak from what is held now.
    ctx.submit();
    ctx.pool.trim();
    ctx.pool.peakAllocatedBytes = ctx.pool.allocatedBytes;
    let model: VisionTransformer;
    try {
      await loadMethod(this.spec.method);
      // A zero-shot head runs the text tower here, once for the whole run.
      const names = this.spec.train.classNames?.length === data.classNames.length ? this.spec.train.classNames : data.classNames;
      model = await buildRunModel(ctx, ckpt, names, this.spec.train.seed ?? 0, this.spec.train.head, this.spec.train.templates);
    } catch (e) {
      this.set('failed', (e as Error).message);
      return undefined;
    }
    try {
      trainer = new Trainer(model, data, norm, {
        ...this.spec.train,
        method: this.spec.method,
        methodConfig: this.spec.methodConfig,
        targets: this.spec.targets,
      });
      const method = METHODS[this.spec.method];
      const adapted = [...trainer.adapters.layers.keys()];
      const candidates = method.usesTargets ? adapted : trainer.adapters.trainsBackbone ? model.targetLayers(this.spec.targets).map((l) => l.module) : [];
      const rankLayer = this.spec.rankLayer && candidates.includes(this.spec.rankLayer) ? this.spec.rankLayer : candidates[0];
      if (rankLayer && trainer.adapters.trainsBackbone) {
        // Full fine-tuning's ΔW is the weight's drift from where it started.
        start = copy(model.param(`${rankLayer}.weight`));
      }
      if (trainer.adapters.trainsBackbone) initial = snapshotWeights(model, analysedModules(trainer));
      this.emit({ type: 'info', runId: this.spec.id, trainableParams: trainer.trainableParams, rankLayer });
      const rankEvery = this.spec.rankEvery ?? Math.max(1, Math.round((trainer.config.steps || 1) / 10));
      const t = trainer;
      const measure = async () => {
        if (!rankLayer) return;
        const W = model.param(`${rankLayer}.weight`);
        const adapter = t.adapters.layers.get(rankLayer);
        const delta = adapter ? await adapterDelta(adapter, W) : start ? await weightDelta(W, start) : undefined;
        if (!delta) return;
        this.emit({ type: 'spectrum', runId: this.spec.id, step: t.currentStep, spectrum: spectrumOf(rankLayer, delta, W.rows, W.cols) });
      };
      this.set('training');
      const summary = await trainer.run({
        onMetric: (metric) => this.emit({ type: 'metric', runId: this.spec.id, metric }),
        shouldStop: () => this.stopRequested,
        beforeStep: async (step) => {
          if (this.pauseGate) await this.pauseGate.promise;
          if (step > 1 && (step - 1) % rankEvery === 0) await measure();
        },
      });
      await measure();
      const perClassAccuracy = summary.confusion.map((row, c) => {
        const n = row.reduce((a, b) => a + b, 0);
        return n ? row[c] / n : 0;
      });
      let analysis: Partial<LayerAnalysis> & { analysis_error?: string };
      try {
        // W0's SVDs are cached per checkpoint: every run of a lab (a study) shares them.
        analysis = await analyseLayers(trainer, { initial, cacheOwner: ckpt });
      } catch (e) {
        analysis = { analysis_error: (e as Error).message };
      }
      const result: RunResult = { ...summary, ...analysis, perClassAccuracy, classNames: data.classNames };
      this.emit({ type: 'result', runId: this.spec.id, result });
      this.emit({ type: 'exports', runId: this.spec.id, files: await runExports(trainer, ckpt, data.classNames, baseModel) });
      if (summary.divergence) this.set('diverged', summary.divergence.message);
      else this.set(this.stopRequested ? 'stopped' : 'done');
      return result;
    } catch (e) {
      this.set('failed', (e as Error).message);
      return undefined;
    } finally {
      start?.release();
      releaseSnapshot(initial);
      trainer?.release();
      model.release();
    }
  }
}
