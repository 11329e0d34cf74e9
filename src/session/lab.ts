import type { Checkpoint } from '../io/checkpoint';
import type { GpuContext } from '../gpu/context';
import { parseConfig, type ModelSpec } from '../models/spec';
import { normalisationFor } from './prepare';
import {
  DEFAULT_CHECKPOINT_POLICY,
  RunController,
  type CheckpointExtra,
  type CheckpointPolicy,
  type LabData,
  type ResumePoint,
  type RunEnvironment,
  type RunEvent,
  type RunSpec,
  type RunState,
} from './run';
import type { RunCheckpointStore } from './checkpointStore';
import { decodeCheckpoint } from './checkpointFile';
import { splitKey } from './splitKey';

/** What the lab's queue holds: a run, or other work on the lab's device, model and split. */
type QueuedWork = Pick<RunController, 'run'>;

/** What work queued with `Lab.exclusive` gets: the lab's device, model and split when its turn comes. */
export interface LabInputs {
  ctx: GpuContext;
  ckpt: Checkpoint;
  data: LabData;
  baseModel: string;
}

export interface LabOptions {
  /** Where run checkpoints are stored (IndexedDB in the page); in memory only without it. */
  checkpoints?: RunCheckpointStore;
  policy?: Partial<CheckpointPolicy>;
  /** Acquires a new device after a loss; without it a lost device fails the run. */
  recover?: () => Promise<GpuContext>;
}

/**
 * The lab: one GPU, one loaded model, one data split, and a queue of runs executed one after
 * another on exactly that model, split and seed, so their curves compare fairly. Runs in a Web
 * Worker in the page and directly under Node in tests.
 */
export class Lab {
  private ckpt: Checkpoint | undefined;
  /** The Hub id or folder name the model came from: what exported adapters name as their base. */
  private baseModel: string | undefined;
  private spec: ModelSpec | undefined;
  private data: LabData | undefined;
  private readonly runs = new Map<string, RunController>();
  /** Runs and other GPU work (ensembling, composing), done one at a time in order on the one device. */
  private queue: QueuedWork[] = [];
  private draining: Promise<void> | undefined;
  private current: GpuContext;
  private readonly env: RunEnvironment;

  constructor(
    ctx: GpuContext,
    private readonly emit: (e: RunEvent) => void,
    private readonly options: LabOptions = {},
  ) {
    this.current = ctx;
    const lab = this;
    this.env = {
      get ctx() {
        return lab.current;
      },
      recover: options.recover && (async () => (lab.current = await options.recover!())),
      checkpoints: options.checkpoints,
      policy: { ...DEFAULT_CHECKPOINT_POLICY, ...options.policy },
    };
  }

  /** The GPU context runs use now (a new one after a device loss). */
  get ctx(): GpuContext {
    return this.current;
  }

  setCheckpointPolicy(policy: Partial<CheckpointPolicy>): void {
    this.env.policy = { ...this.env.policy, ...policy };
  }

  setModel(ckpt: Checkpoint, baseModel = ckpt.source): ModelSpec {
    const spec = parseConfig(ckpt.config, `${ckpt.source}/config.json`, ckpt.tensors.keys());
    this.ckpt = ckpt;
    this.baseModel = baseModel;
    this.spec = spec;
    return spec;
  }

  setData(data: LabData): void {
    this.data = data;
  }

  /** The loaded model as read (the base a composition's task vectors are taken against). */
  get checkpoint(): Checkpoint | undefined {
    return this.ckpt;
  }

  get modelSpec(): ModelSpec | undefined {
    return this.spec;
  }

  get normalisation(): ReturnType<typeof normalisationFor> | undefined {
    return this.ckpt && this.spec ? normalisationFor(this.spec, this.ckpt) : undefined;
  }

  state(id: string): RunState | undefined {
    return this.runs.get(id)?.state;
  }

  /** Queues runs; they start in order once the model and data are loaded. */
  enqueue(...specs: RunSpec[]): void {
    this.enqueueFrom(specs, new Map());
  }

  /**
   * Queues runs interrupted by a reload, each from its stored checkpoint (from step 0 when it has
   * none: it had not started, or stopped before its first checkpoint). Refuses, before queueing
   * any, a checkpoint made on another model or data split, saying what to load.
   */
  async resumeRuns(specs: RunSpec[]): Promise<void> {
    this.requireLoaded();
    const points = new Map<string, ResumePoint>();
    const split = splitKey(this.data!);
    for (const spec of specs) {
      const stored = await this.options.checkpoints?.load(spec.id);
      if (!stored) continue;
      const { state, extra } = decodeCheckpoint(stored.bytes, `the checkpoint of "${spec.name}"`);
      const saved = extra as Partial<CheckpointExtra>;
      if (saved.model !== this.baseModel) {
        throw new Error(`"${spec.name}" was trained on the model ${saved.model}, but ${this.baseModel} is loaded: load ${saved.model} again, then Resume.`);
      }
      if (saved.split !== split) {
        throw new Error(
          `"${spec.name}" was trained on another data split (${saved.split}, now ${split}): load the same data set with the same validation fraction, seed and k-shot as before, then Resume.`,
        );
      }
      points.set(spec.id, { state, history: saved.history ?? { metrics: [], spectra: [] } });
    }
    this.enqueueFrom(specs, points);
    // Runs without a checkpoint start over: whatever the page still shows of them is cleared.
    for (const spec of specs) {
      if (!points.has(spec.id)) this.emit({ type: 'restored', runId: spec.id, step: 0, history: { metrics: [], spectra: [] } });
    }
  }

  /** Forgets a run's stored checkpoint (Discard on an interrupted run). */
  async discardCheckpoint(id: string): Promise<void> {
    await this.options.checkpoints?.delete(id);
  }

  private requireLoaded(): void {
    if (!this.ckpt) throw new Error('Load a model before queueing runs.');
    if (!this.data) throw new Error('Load a data set before queueing runs.');
  }

  private enqueueFrom(specs: RunSpec[], points: Map<string, ResumePoint>): void {
    this.requireLoaded();
    for (const spec of specs) {
      if (this.runs.has(spec.id)) throw new Error(`A run with id ${spec.id} already exists.`);
    }
    for (const spec of specs) {
      const run = new RunController(spec, this.emit, points.get(spec.id));
      this.runs.set(spec.id, run);
      this.queue.push(run);
      this.emit({ type: 'state', runId: spec.id, state: 'queued' });
    }
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  /**
   * Queues GPU work that is not a training run (ensembling or composing finished runs) behind the
   * runs already queued, so it never shares the device with one; runs queued later wait for it.
   * Resolves with what `work` returns, or rejects with its error.
   */
  exclusive<T>(work: (inputs: LabInputs) => Promise<T>): Promise<T> {
    this.requireLoaded();
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        run: async (env, ckpt, data, _norm, baseModel = ckpt.source) => {
          try {
            resolve(await work({ ctx: env.ctx, ckpt, data, baseModel }));
          } catch (e) {
            reject(e);
          }
          return undefined;
        },
      });
      this.draining ??= this.drain().finally(() => (this.draining = undefined));
    });
  }

  pause(id: string): void {
    this.runs.get(id)?.pause();
  }

  resume(id: string): void {
    this.runs.get(id)?.resume();
  }

  stop(id: string): void {
    const run = this.runs.get(id);
    if (!run) return;
    run.stop();
    this.queue = this.queue.filter((r) => r !== run);
  }

  /** Resolves when the queue is empty. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    for (let run = this.queue.shift(); run; run = this.queue.shift()) {
      // Model and data may change between runs; each run takes what is loaded when it starts.
      await run.run(this.env, this.ckpt!, this.data!, this.normalisation!, this.baseModel);
    }
  }
}
