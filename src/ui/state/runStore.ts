import { create } from 'zustand';
import type { MetricRecord } from '../../train/trainer';
import type { Spectrum } from '../../train/rank';
import type { RunEvent, RunResult, RunSpec, RunState } from '../../session/run';

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
}

interface RunStore {
  runs: Record<string, RunView>;
  order: string[];
  add(spec: RunSpec): void;
  apply(e: RunEvent): void;
  remove(id: string): void;
}

/** Every run the page knows of, fed by the lab worker's events. */
export const useRunStore = create<RunStore>((set) => ({
  runs: {},
  order: [],
  add: (spec) =>
    set((s) => ({
      runs: { ...s.runs, [spec.id]: { spec, state: 'queued', train: [], evals: [], spectra: [] } },
      order: s.order.includes(spec.id) ? s.order : [...s.order, spec.id],
    })),
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
      }
      return { runs: { ...s.runs, [e.runId]: next } };
    }),
  remove: (id) =>
    set((s) => {
      const runs = { ...s.runs };
      delete runs[id];
      return { runs, order: s.order.filter((x) => x !== id) };
    }),
}));
