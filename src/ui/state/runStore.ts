import { create } from 'zustand';
import type { MetricRecord } from '../../train/trainer';
import type { Spectrum } from '../../train/rank';
import type { RunEvent, RunExports, RunResult, RunSpec, RunState } from '../../session/run';
import type { Fingerprint } from '../../io/sources/fingerprinting';
import type { RunEnvironment } from '../runs/environment';

export interface RunView {
  spec: RunSpec;
  state: RunState;
  error?: string;
  trainableParams?: number;
  rankLayer?: string;
  train: Extract<MetricRecord, { kind: 'train' }>[];
  evals: Extract<MetricRecord, { kind: 'eval' }>[];
  spectra: Array<{ step: number; spectrum: Spectrum }>;
  result?: RunResult;
  /** The run's colour in every chart and table, kept across reloads. */
  color: string;
  /** When it was queued (ms since the epoch). */
  createdAt: number;
  /** The model and data set it trained on, for the record (ModelInfo.source, DatasetInfo.source). */
  model?: string;
  dataset?: string;
  /** Downloadable adapter and merged model, made when the run finished (kept with the run). */
  exports?: RunExports;
  /** Restored from the archive after a reload: finished, and no longer known to the worker. */
  restored?: boolean;
  /** Fingerprints of the model's and the data set's files (name + SHA-256), for run files. */
  modelFingerprint?: Fingerprint;
  datasetFingerprint?: Fingerprint;
  /** Where it trained: the GPU adapter and the browser. */
  environment?: RunEnvironment;
  /** Read from a .rankscope.json run file (its name, when), not trained on this page. */
  imported?: { file: string; at: number };
  /** The step of the run's newest checkpoint stored in this browser (what a Resume after a reload continues from). */
  checkpointStep?: number;
  /** The run's log: a device loss survived, checkpoints that could not be stored, a refused Resume. */
  notices?: Array<{ level: 'info' | 'warning'; message: string }>;
}

/** A run a reload (or a closed or crashed tab) stopped before it finished: it can be resumed or discarded. */
export function isInterrupted(view: RunView): boolean {
  return !!view.restored && !view.imported && !FINISHED.has(view.state);
}

/** What queueRuns records about a run besides its spec. */
export type RunMeta = Partial<Pick<RunView, 'model' | 'dataset' | 'modelFingerprint' | 'datasetFingerprint' | 'environment'>>;

/** States after which a run no longer changes. */
export const FINISHED: ReadonlySet<RunState> = new Set(['done', 'stopped', 'diverged', 'failed']);

/** Distinct on light and dark backgrounds; a run keeps its colour for life. */
export const RUN_COLORS = ['#3257d6', '#d6453d', '#2e9e5b', '#c27c0e', '#8e44ad', '#0e8fa3', '#b8377e', '#6b7a8f'];

export function nextColor(used: readonly string[]): string {
  return RUN_COLORS.find((c) => !used.includes(c)) ?? RUN_COLORS[used.length % RUN_COLORS.length];
}

interface RunStore {
  runs: Record<string, RunView>;
  order: string[];
  /** Why finished runs could not be saved or restored (IndexedDB unavailable, quota), if so. */
  archiveError?: string;
  setArchiveError(message: string | undefined): void;
  add(spec: RunSpec, meta?: RunMeta): void;
  /** Adds runs read from a run file after the page's own, giving each a colour not yet in use. */
  addImported(views: RunView[]): void;
  apply(e: RunEvent): void;
  /** Puts archived runs back (oldest first), keeping any the page already knows. */
  restore(views: RunView[]): void;
  /** Interrupted runs going back into the lab's queue: live again, queued, their error cleared. */
  requeue(ids: string[]): void;
  /** Back to interrupted (the lab refused them), with the reason in their log. */
  interrupt(ids: string[], message: string): void;
  remove(id: string): void;
}

/** Every run the page knows of, fed by the lab worker's events. */
export const useRunStore = create<RunStore>((set) => ({
  runs: {},
  order: [],
  setArchiveError: (archiveError) => set({ archiveError }),
  add: (spec, meta = {}) =>
    set((s) => {
      const color = s.runs[spec.id]?.color ?? nextColor(s.order.map((id) => s.runs[id].color));
      const view: RunView = { spec, state: 'queued', train: [], evals: [], spectra: [], color, createdAt: Date.now(), ...meta };
      return {
        runs: { ...s.runs, [spec.id]: view },
        order: s.order.includes(spec.id) ? s.order : [...s.order, spec.id],
      };
    }),
  apply: (e) =>
    set((s) => {
      const run = s.runs[e.runId];
      if (!run) return s;
      const next: RunView = { ...run };
      if (e.type === 'state') {
        next.state = e.state;
        next.error = e.error;
      } else if (e.type === 'info') {
        next.trainableParams = e.trainableParams;
        next.rankLayer = e.rankLayer;
      } else if (e.type === 'metric') {
        if (e.metric.kind === 'train') next.train = [...run.train, e.metric];
        else next.evals = [...run.evals, e.metric];
      } else if (e.type === 'spectrum') {
        next.spectra = [...run.spectra, { step: e.step, spectrum: e.spectrum }];
      } else if (e.type === 'result') {
        next.result = e.result;
      } else if (e.type === 'exports') {
        next.exports = e.files;
      } else if (e.type === 'checkpoint') {
        if (e.stored) next.checkpointStep = e.step;
      } else if (e.type === 'restored') {
        // The run goes on from a checkpoint: its curve is exactly what it was then.
        next.train = e.history.metrics.filter((m): m is RunView['train'][number] => m.kind === 'train');
        next.evals = e.history.metrics.filter((m): m is RunView['evals'][number] => m.kind === 'eval');
        next.spectra = e.history.spectra;
      } else if (e.type === 'notice') {
        next.notices = [...(run.notices ?? []), { level: e.level, message: e.message }];
      }
      return { runs: { ...s.runs, [e.runId]: next } };
    }),
  addImported: (views) =>
    set((s) => {
      const fresh = views.filter((v) => !s.runs[v.spec.id]);
      if (!fresh.length) return s;
      const runs = { ...s.runs };
      const used = s.order.map((id) => s.runs[id].color);
      for (const v of fresh) {
        const color = used.includes(v.color) ? nextColor(used) : v.color;
        used.push(color);
        runs[v.spec.id] = { ...v, color };
      }
      return { runs, order: [...s.order, ...fresh.map((v) => v.spec.id)] };
    }),
  restore: (views) =>
    set((s) => {
      const fresh = views.filter((v) => !s.runs[v.spec.id]).sort((a, b) => a.createdAt - b.createdAt);
      if (!fresh.length) return s;
      const runs = { ...s.runs };
      for (const v of fresh) runs[v.spec.id] = { ...v, restored: true };
      return { runs, order: [...fresh.map((v) => v.spec.id), ...s.order] };
    }),
  requeue: (ids) =>
    set((s) => {
      const runs = { ...s.runs };
      for (const id of ids) if (runs[id]) runs[id] = { ...runs[id], restored: false, state: 'queued', error: undefined };
      return { runs };
    }),
  interrupt: (ids, message) =>
    set((s) => {
      const runs = { ...s.runs };
      for (const id of ids) {
        const run = runs[id];
        if (run) runs[id] = { ...run, restored: true, notices: [...(run.notices ?? []), { level: 'warning', message }] };
      }
      return { runs };
    }),
  remove: (id) =>
    set((s) => {
      const runs = { ...s.runs };
      delete runs[id];
      return { runs, order: s.order.filter((x) => x !== id) };
    }),
}));
