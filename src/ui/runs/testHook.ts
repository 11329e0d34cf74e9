/**
 * A small handle on the lab for end-to-end tests, installed on `window.__rankscope` only when the
 * page's URL carries `?e2e`. It loads a model and a data set the way the model and data panels
 * do (through the worker, then into their stores), so the runs panel can be tested on its own.
 */
import type { QueryClient } from '@tanstack/react-query';
import { getLab, LAB_QUERY_KEY } from '../lab';
import { useDataStore } from '../state/dataStore';
import { useMethodStore } from '../state/methodStore';
import { useModelStore } from '../state/modelStore';
import type { DataPlan } from '../../session/prepare';
import type { DatasetInfo, ModelInfo } from '../../session/protocol';
import type { TrainSettings } from './specs';

export interface RankscopeTestHook {
  loadModel(base: string): Promise<ModelInfo>;
  loadDataset(base: string, files: string[], plan?: Partial<DataPlan>): Promise<Pick<DatasetInfo, 'classNames' | 'trainCounts' | 'valCounts'>>;
  setTrain(patch: Partial<TrainSettings>): void;
}

declare global {
  interface Window {
    __rankscope?: RankscopeTestHook;
  }
}

export function installTestHook(queryClient: QueryClient): void {
  if (typeof window === 'undefined' || !new URLSearchParams(window.location.search).has('e2e')) return;
  const ready = () => queryClient.fetchQuery({ queryKey: LAB_QUERY_KEY, queryFn: () => getLab().init(), staleTime: Infinity });
  window.__rankscope = {
    async loadModel(base) {
      await ready();
      const info = await getLab().loadModel({ kind: 'url', base });
      useModelStore.getState().setInfo(info);
      return info;
    },
    async loadDataset(base, files, plan = {}) {
      await ready();
      useDataStore.getState().setPlan(plan);
      const info = await getLab().loadDataset({ kind: 'url', base, files }, useDataStore.getState().plan);
      useDataStore.getState().setInfo(info);
      return { classNames: info.classNames, trainCounts: info.trainCounts, valCounts: info.valCounts };
    },
    setTrain(patch) {
      useMethodStore.getState().setTrain(patch);
    },
  };
}
