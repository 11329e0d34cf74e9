import { create } from 'zustand';
import type { ModelInfo } from '../../session/protocol';

/** The model loaded into the lab (owned by the model panel; read by the method and run panels). */
interface ModelStore {
  info?: ModelInfo;
  setInfo(info: ModelInfo | undefined): void;
}

export const useModelStore = create<ModelStore>((set) => ({
  setInfo: (info) => set({ info }),
}));
