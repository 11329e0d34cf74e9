import { create } from 'zustand';
import type { DatasetInfo } from '../../session/protocol';
import type { DataPlan } from '../../session/prepare';

/** The data set loaded into the lab and how it is split (owned by the data panel). */
interface DataStore {
  info?: DatasetInfo;
  plan: DataPlan;
  setInfo(info: DatasetInfo | undefined): void;
  setPlan(plan: Partial<DataPlan>): void;
}

export const useDataStore = create<DataStore>((set) => ({
  plan: { valFraction: 0.2, seed: 0 },
  setInfo: (info) => set({ info }),
  setPlan: (plan) => set((s) => ({ plan: { ...s.plan, ...plan } })),
}));
