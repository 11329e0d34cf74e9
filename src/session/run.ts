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
import type { TrainerState } from '../train/trainer';
import { encodeCheckpoint } from './checkpointFile';
import { checkpointFailureMessage, type RunCheckpointStore } from './checkpointStore';
import { splitKey } from './splitKey';
import { autotuneMessage } from '../engine/tuning/describe';

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
  | { type: 'exports'; runId: string; files: RunExports }
  /** A checkpoint was taken at `step`: in memory always, and in the lab's store when `stored`. */
  | { type: 'checkpoint'; runId: string; step: number; stored: boolean }
  /**
   * The run goes on from a checkpoint at `step` (a resume, or a new device after a loss): its
   * metrics and spectra so far are exactly these, and later ones come again from the steps after.
   */
  | { type: 'restored'; runId: string; step: number; history: RunHistory }
  /** Something a person should read in the run's log: a device loss survived, checkpoints that could not be stored. */
  | { type: 'notice'; runId: string; level: 'info' | 'warning'; message: string };

/** What a run has reported so far, kept with each checkpoint so a resumed run shows its whole curve. */
export interface RunHistory {
  metrics: MetricRecord[];
  spectra: Array<{ step: number; spectrum: Spectrum }>;
}

/** A checkpoint to continue from: the trainer's state and the history up to it. */
export interface ResumePoint {
  state: TrainerState;
  history: RunHistory;
}

/** Every N steps or S seconds, whichever comes first (0 turns either off), as the CLI does. */
export interface CheckpointPolicy {
  everySteps: number;
  everySeconds: number;
}

export const DEFAULT_CHECKPOINT_POLICY: CheckpointPolicy = { everySteps: 50, everySeconds: 30 };

/** What a run needs from the lab around it. */
export interface RunEnvironment {
  /** The lab's GPU context now: a new one after a device loss. */
  readonly ctx: GpuContext;
  /** A new device after a loss (and the lab switched to it); without it a lost device fails the run. */
  recover?: () => Promise<GpuContext>;
  /** Where checkpoints are stored so a run survives a reload; in memory only without it. */
  checkpoints?: RunCheckpointStore;
  policy: CheckpointPolicy;
}

/** Checkpoint metadata that ties it to the lab it can continue in. */
export interface CheckpointExtra {
  runId: string;
  /** The base model's name (Hub id or folder). */
  model: string;
  /** `splitKey` of the data split it trained on. */
  split: string;
  history: RunHistory;
}

function copyHistory(h: RunHistory): RunHistory {
  return { metrics: [...h.metrics], spectra: [...h.spectra] };
}

/** How long to wait, after an error, for the device's `lost` promise to say whether it was a loss. */
const LOSS_GRACE_MS = 300;

/** The device's loss info if it has been lost (by a driver reset, or destroyed), else undefined. */
async function deviceLoss(device: GPUDevice): Promise<GPUDeviceLostInfo | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wait = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), LOSS_GRACE_MS)));
  const info = await Promise.race([device.lost, wait]);
  clearTimeout(timer);
  return info;
}


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
 * run starts from the same weights), trains it, reports metrics and ΔW spectra, checkpoints it
 * (every N steps or S seconds, and when paused), and releases its GPU memory at the end whatever
 * happens. A lost GPU device is survived once: the run goes on from its last checkpoint on a new
 * device; a second loss pauses it with the reason until a person presses Resume.
 */
export class RunController {
  state: RunState = 'queued';
  private pauseGate: { promise: Promise<void>; open: () => void } | undefined;
  private stopRequested = false;

  constructor(
    readonly spec: RunSpec,
    private readonly emit: (e: RunEvent) => void,
    /** Continue from this checkpoint instead of step 0 (a run interrupted by a reload). */
    private readonly resumeFrom?: ResumePoint,
  ) {}

  private set(state: RunState, error?: string): void {
    this.state = state;
    this.emit({ type: 'state', runId: this.spec.id, state, error });
  }

  private notice(level: 'info' | 'warning', message: string): void {
    this.emit({ type: 'notice', runId: this.spec.id, level, message });
  }

  private closeGate(): Promise<void> {
    let open!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    this.pauseGate = { promise, open };
    return promise;
  }

  pause(): void {
    if (this.state !== 'training' || this.pauseGate) return;
    void this.closeGate();
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

  async run(env: RunEnvironment, ckpt: Checkpoint, data: LabData, norm: Normalisation, baseModel = ckpt.source): Promise<RunResult | undefined> {
    if (this.stopRequested) return undefined;
    // A study's few-shot cell trains on its own k per class, drawn with its seed from the lab's split.
    data = withKShot(data, this.spec.kShot);
    this.set('loading');
    try {
      await loadMethod(this.spec.method);
    } catch (e) {
      this.set('failed', (e as Error).message);
      return undefined;
    }
    let saved = this.resumeFrom;
    const history: RunHistory = saved ? copyHistory(saved.history) : { metrics: [], spectra: [] };
    if (saved) this.emit({ type: 'restored', runId: this.spec.id, step: saved.state.step, history: copyHistory(saved.history) });
    const storage = { active: !!env.checkpoints, extra: { runId: this.spec.id, model: baseModel, split: splitKey(data) } };
    let losses = 0;
    try {
      for (;;) {
        const ctx = env.ctx;
        const at = { step: saved?.state.step ?? 0 };
        try {
          return await this.attempt(env, ctx, ckpt, data, norm, baseModel, saved, history, storage, (point) => {
            saved = point;
          }, at);
        } catch (e) {
          const lost = await deviceLoss(ctx.device);
          if (!lost || !env.recover) {
            this.set('failed', (e as Error).message);
            return undefined;
          }
          losses++;
          const from = saved ? `the checkpoint at step ${saved.state.step}` : 'the start';
          const what = `The GPU device was lost at step ${at.step} (${lost.reason}${lost.message ? `: ${lost.message}` : ''}).`;
          if (losses === 1) {
            this.notice('info', `${what} Rankscope got a new device and continues from ${from}.`);
          } else {
            const message = `${what} It was lost before in this run, so the run waits: press Resume to continue from ${from} on a new device (close other GPU-heavy tabs first), or Stop.`;
            const gate = this.closeGate();
            this.notice('warning', message);
            this.set('paused', message);
            await gate;
            if (this.stopRequested) {
              this.set('stopped');
              return undefined;
            }
          }
          try {
            await env.recover();
          } catch (e2) {
            this.set('failed', `${what} No new GPU device could be had: ${(e2 as Error).message}`);
            return undefined;
          }
          const back = saved ? copyHistory(saved.history) : { metrics: [], spectra: [] };
          history.metrics = [...back.metrics];
          history.spectra = [...back.spectra];
          this.emit({ type: 'restored', runId: this.spec.id, step: saved?.state.step ?? 0, history: back });
        }
      }
    } finally {
      // A finished run (whatever its end) needs no checkpoint; one paused by a reload never gets here.
      if (env.checkpoints) await env.checkpoints.delete(this.spec.id).catch(() => undefined);
    }
  }

  /** One go at training on one device, from `resume` when given; throws when anything fails (a device loss included). */
  private async attempt(
    env: RunEnvironment,
    ctx: GpuContext,
    ckpt: Checkpoint,
    data: LabData,
    norm: Normalisation,
    baseModel: string,
    resume: ResumePoint | undefined,
    history: RunHistory,
    storage: { active: boolean; extra: Omit<CheckpointExtra, 'history'> },
    keep: (point: ResumePoint) => void,
    at: { step: number },
  ): Promise<RunResult | undefined> {
    let trainer: Trainer | undefined;
    let start: Tensor | undefined;
    // Full fine-tuning's W0 of every targeted layer, for the end-of-run ranks and intruders.
    let initial: Map<string, Tensor> | undefined;
    let model: VisionTransformer | undefined;
    // Each run's peak GPU memory is its own: free the buffers earlier runs left in the pool for
    // reuse (after submitting anything still recorded), and count the peak from what is held now.
    ctx.submit();
    ctx.pool.trim();
    ctx.pool.peakAllocatedBytes = ctx.pool.allocatedBytes;
    try {
      // A zero-shot head runs the text tower here, once for the whole run.
      const names = this.spec.train.classNames?.length === data.classNames.length ? this.spec.train.classNames : data.classNames;
      model = await buildRunModel(ctx, ckpt, names, this.spec.train.seed ?? 0, this.spec.train.head, this.spec.train.templates);
      trainer = new Trainer(model, data, norm, {
        ...this.spec.train,
        method: this.spec.method,
        methodConfig: this.spec.methodConfig,
        targets: this.spec.targets,
      });
      const m = model;
      const method = METHODS[this.spec.method];
      const adapted = [...trainer.adapters.layers.keys()];
      const candidates = method.usesTargets ? adapted : trainer.adapters.trainsBackbone ? m.targetLayers(this.spec.targets).map((l) => l.module) : [];
      const rankLayer = this.spec.rankLayer && candidates.includes(this.spec.rankLayer) ? this.spec.rankLayer : candidates[0];
      if (rankLayer && trainer.adapters.trainsBackbone) {
        // Full fine-tuning's ΔW is the weight's drift from where it started (taken before a restore).
        start = copy(m.param(`${rankLayer}.weight`));
      }
      // W0 comes from the checkpoint as loaded, so it is taken before a restore too.
      if (trainer.adapters.trainsBackbone) initial = snapshotWeights(model, analysedModules(trainer));
      if (resume) trainer.restoreState(resume.state);
      this.emit({ type: 'info', runId: this.spec.id, trainableParams: trainer.trainableParams, rankLayer });
      const rankEvery = this.spec.rankEvery ?? Math.max(1, Math.round((trainer.config.steps || 1) / 10));
      const t = trainer;
      const measure = async () => {
        if (!rankLayer) return;
        const W = m.param(`${rankLayer}.weight`);
        const adapter = t.adapters.layers.get(rankLayer);
        // Merged against W0 in f32, also when the run stores it in f16 (mixed precision).
        const delta = adapter ? await m.withF32Weight(`${rankLayer}.weight`, (W32) => adapterDelta(adapter, W32)) : start ? await weightDelta(W, start) : undefined;
        if (!delta) return;
        const entry = { step: t.currentStep, spectrum: spectrumOf(rankLayer, delta, W.rows, W.cols) };
        history.spectra.push(entry);
        this.emit({ type: 'spectrum', runId: this.spec.id, ...entry });
      };
      let lastSaved = t.currentStep;
      let lastSavedAt = performance.now();
      // Read the state (a GPU readback), keep it in memory for a device loss, store it for a reload.
      const checkpoint = async () => {
        const step = t.currentStep;
        if (step === lastSaved) return;
        const state = await t.saveState();
        const point = { state, history: copyHistory(history) };
        keep(point);
        lastSaved = step;
        lastSavedAt = performance.now();
        let stored = false;
        if (storage.active && env.checkpoints) {
          try {
            await env.checkpoints.save(this.spec.id, step, encodeCheckpoint(state, { ...storage.extra, history: point.history } satisfies CheckpointExtra));
            stored = true;
          } catch (e) {
            storage.active = false;
            this.notice('warning', checkpointFailureMessage(e, env.checkpoints.description, step));
          }
        }
        this.emit({ type: 'checkpoint', runId: this.spec.id, step, stored });
      };
      const { everySteps, everySeconds } = env.policy;
      this.set('training');
      const summary = await trainer.run({
        onMetric: (metric) => {
          history.metrics.push(metric);
          this.emit({ type: 'metric', runId: this.spec.id, metric });
        },
        shouldStop: () => this.stopRequested,
        onAutotune: (report) => this.notice('info', autotuneMessage(report)),
        // Where mixed precision was asked for, the run says whether it kept it; plain f32 by the
        // device's setting is no news (the GPU badge's dialog says which precision runs).
        onPrecision: (report) => {
          if (report.requested) this.notice('info', report.message);
        },
        beforeStep: async (step) => {
          at.step = step - 1;
          const gate = this.pauseGate;
          if (gate) {
            // A paused run is checkpointed first, so a reload while it waits loses nothing (Resume
            // may come while that checkpoint is read back: the gate taken here is then already open).
            await checkpoint();
            await gate.promise;
          }
          if (step > 1 && (step - 1) % rankEvery === 0) await measure();
        },
        afterStep: async (step) => {
          at.step = step;
          const due = (everySteps > 0 && step % everySteps === 0) || (everySeconds > 0 && performance.now() - lastSavedAt >= everySeconds * 1000);
          if (due && step < t.config.steps) await checkpoint();
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
    } finally {
      start?.release();
      releaseSnapshot(initial);
      trainer?.release();
      model?.release();
    }
  }
}
