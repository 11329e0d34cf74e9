import type { Checkpoint } from '../io/checkpoint';
import type { GpuContext } from '../gpu/context';
import { parseConfig, type ModelSpec } from '../models/spec';
import { normalisationFor } from './prepare';
import { RunController, type LabData, type RunEvent, type RunSpec, type RunState } from './run';

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
  private queue: RunController[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    readonly ctx: GpuContext,
    private readonly emit: (e: RunEvent) => void,
  ) {}

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
    if (!this.ckpt) throw new Error('Load a model before queueing runs.');
    if (!this.data) throw new Error('Load a data set before queueing runs.');
    for (const spec of specs) {
      if (this.runs.has(spec.id)) throw new Error(`A run with id ${spec.id} already exists.`);
      const run = new RunController(spec, this.emit);
      this.runs.set(spec.id, run);
      this.queue.push(run);
      this.emit({ type: 'state', runId: spec.id, state: 'queued' });
    }
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
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
      await run.run(this.ctx, this.ckpt!, this.data!, this.normalisation!, this.baseModel);
    }
  }
}
