/**
 * A small handle for end-to-end tests, installed on `window.__rankscope` only when the page's URL
 * carries `?e2e`: it queues the method panel's run (or the demo's comparison) with training settings the panel's own
 * validation would refuse, to check how the page reports a run that fails inside the worker; sets
 * how often runs checkpoint; and destroys the lab worker's GPU device, as a driver reset would.
 */
import { useDataStore } from '../state/dataStore';
import { useMethodStore } from '../state/methodStore';
import { useModelStore } from '../state/modelStore';
import { useRunStore } from '../state/runStore';
import { comparisonSpecs, specFromSettings, type ComparisonMethod, type TrainSettings } from './specs';
import { queueRuns } from './useRuns';
import { getLab } from '../lab';
import type { CheckpointPolicy } from '../../session/run';

export interface RankscopeTestHook {
  /** Queues the method panel's current run with `train` overrides; resolves to the run's id. */
  queue(train: Partial<TrainSettings>): Promise<string>;
  /** Queues the demo's comparison (LoRA, RandLoRA, full fine-tuning, or `methods`) with `train` overrides; resolves to their ids. */
  compare(train: Partial<TrainSettings>, methods?: ComparisonMethod[]): Promise<string[]>;
  /** Checkpoint every N steps / S seconds from now on (the lab's default is 50 steps or 30 s). */
  checkpointEvery(policy: Partial<CheckpointPolicy>): Promise<void>;
  /** Destroys the training device mid-run: the run should go on from its last checkpoint on a new one. */
  destroyDevice(): Promise<void>;
  /** A run as the page holds it: state, losses by step, final numbers, its log. */
  run(id: string): TestRunView | undefined;
}

export interface TestRunView {
  state: string;
  losses: Array<[number, number]>;
  finalValLoss?: number;
  finalValAccuracy?: number;
  notices: string[];
  checkpointStep?: number;
}

declare global {
  interface Window {
    __rankscope?: RankscopeTestHook;
  }
}

export function installTestHook(): void {
  if (typeof window === 'undefined' || !new URLSearchParams(window.location.search).has('e2e')) return;
  window.__rankscope = {
    async queue(train) {
      const model = useModelStore.getState().info;
      if (!model) throw new Error('Load a model first.');
      const spec = specFromSettings(useMethodStore.getState(), { model });
      spec.train = { ...spec.train, ...train };
      await queueRuns([spec], { model: model.source, dataset: useDataStore.getState().info?.source });
      return spec.id;
    },
    async compare(train, methods) {
      const model = useModelStore.getState().info;
      if (!model) throw new Error('Load a model first.');
      const s = useMethodStore.getState();
      const specs = comparisonSpecs({ ...s, train: { ...s.train, ...train } }, { model, methods });
      await queueRuns(specs, { model: model.source, dataset: useDataStore.getState().info?.source });
      return specs.map((x) => x.id);
    },
    checkpointEvery: (policy) => getLab().setCheckpointPolicy(policy),
    destroyDevice: () => getLab().destroyDeviceForTest(),
    run(id) {
      const v = useRunStore.getState().runs[id];
      if (!v) return undefined;
      return {
        state: v.state,
        losses: v.train.map((m) => [m.step, m.loss]),
        finalValLoss: v.result?.final_val_loss,
        finalValAccuracy: v.result?.final_val_accuracy,
        notices: (v.notices ?? []).map((n) => n.message),
        checkpointStep: v.checkpointStep,
      };
    },
  };
}
