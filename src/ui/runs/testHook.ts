/**
 * A small handle for end-to-end tests, installed on `window.__rankscope` only when the page's URL
 * carries `?e2e`: it queues the method panel's run with training settings the panel's own
 * validation would refuse, to check how the page reports a run that fails inside the worker.
 */
import { useDataStore } from '../state/dataStore';
import { useMethodStore } from '../state/methodStore';
import { useModelStore } from '../state/modelStore';
import { specFromSettings, type TrainSettings } from './specs';
import { queueRuns } from './useRuns';

export interface RankscopeTestHook {
  /** Queues the method panel's current run with `train` overrides; resolves to the run's id. */
  queue(train: Partial<TrainSettings>): Promise<string>;
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
  };
}
