import { create } from 'zustand';
import { METHODS, type MethodId } from '../../adapters';
import { TRAIN_DEFAULTS, type TrainConfig } from '../../train/trainer';

/** The method settings a person is editing (owned by the method panel; the run panel queues from them). */
interface MethodStore {
  method: MethodId;
  configs: Record<MethodId, Record<string, unknown>>;
  targets: string[] | undefined;
  train: Omit<TrainConfig, 'method' | 'targets'>;
  setMethod(m: MethodId): void;
  setConfig(m: MethodId, patch: Record<string, unknown>): void;
  setTargets(t: string[] | undefined): void;
  setTrain(patch: Partial<Omit<TrainConfig, 'method' | 'targets'>>): void;
}

export const useMethodStore = create<MethodStore>((set) => ({
  method: 'lora',
  configs: Object.fromEntries(Object.entries(METHODS).map(([id, m]) => [id, { ...m.defaults }])) as Record<MethodId, Record<string, unknown>>,
  targets: undefined,
  train: { ...TRAIN_DEFAULTS },
  setMethod: (method) => set({ method }),
  setConfig: (m, patch) => set((s) => ({ configs: { ...s.configs, [m]: { ...s.configs[m], ...patch } } })),
  setTargets: (targets) => set({ targets }),
  setTrain: (patch) => set((s) => ({ train: { ...s.train, ...patch } })),
}));
