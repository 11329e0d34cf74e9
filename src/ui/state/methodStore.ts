import { create } from 'zustand';
import { DEFAULT_METHOD, METHODS, type MethodId } from '../../methods/registry';
import type { ModelInfo } from '../../session/protocol';
import type { RunSpec } from '../../session/run';
import { TRAIN_DEFAULTS, type TrainConfig } from '../../train/trainer';
import { useModelStore } from './modelStore';

export type TrainSettings = Omit<TrainConfig, 'method' | 'targets'>;

/** The method settings a person is editing (owned by the method panel; the run panel queues from them). */
interface MethodStore {
  method: MethodId;
  configs: Record<MethodId, Record<string, unknown>>;
  /** Target module kinds chosen by the person; undefined means the model's defaults. */
  targets: string[] | undefined;
  train: TrainSettings;
  setMethod(m: MethodId): void;
  setConfig(m: MethodId, patch: Record<string, unknown>): void;
  setTargets(t: string[] | undefined): void;
  setTrain(patch: Partial<TrainSettings>): void;
}

export const METHOD_IDS = Object.keys(METHODS) as MethodId[];

export function defaultConfigs(): Record<MethodId, Record<string, unknown>> {
  return Object.fromEntries(METHOD_IDS.map((id) => [id, { ...METHODS[id].defaults }])) as Record<MethodId, Record<string, unknown>>;
}

export const useMethodStore = create<MethodStore>((set) => ({
  method: DEFAULT_METHOD,
  configs: defaultConfigs(),
  targets: undefined,
  train: { ...TRAIN_DEFAULTS },
  setMethod: (method) => set({ method }),
  setConfig: (m, patch) => set((s) => ({ configs: { ...s.configs, [m]: { ...s.configs[m], ...patch } } })),
  setTargets: (targets) => set({ targets }),
  setTrain: (patch) => set((s) => ({ train: { ...s.train, ...patch } })),
}));

/** The target kinds a run uses: the person's choice where the model has them, else the model's defaults. */
export function effectiveTargets(targets: string[] | undefined, info: ModelInfo | undefined): string[] {
  if (!info) return targets ?? [];
  if (!targets) return info.defaultTargets;
  return targets.filter((t) => info.allTargets.includes(t));
}

/**
 * A run of `method` (default: the selected one) with the panel's current settings, ready for the
 * lab's estimate() or enqueue() once given an id and a name.
 */
export function currentRunSpec(method?: MethodId): Omit<RunSpec, 'id' | 'name'> {
  const s = useMethodStore.getState();
  const m = method ?? s.method;
  return {
    method: m,
    methodConfig: { ...s.configs[m] },
    targets: effectiveTargets(s.targets, useModelStore.getState().info),
    train: { ...s.train },
  };
}
