import { create } from 'zustand';
import type { Augmentation } from '../../engine/ops/preprocess';
import type { DatasetInfo } from '../../session/protocol';
import type { DataPlan } from '../../session/prepare';

/** Augmentation as the data panel edits it: the crop's ranges are kept while the crop is off. */
export interface AugmentSettings {
  /** Random resized crop (torchvision's RandomResizedCrop). */
  crop: boolean;
  /** Share of the image's area a crop covers, [min, max] within (0, 1]. */
  scale: [number, number];
  /** Width / height of a crop, [min, max]. */
  ratio: [number, number];
  /** Mirror half the training images left-right. */
  flip: boolean;
}

export const AUGMENT_DEFAULTS: AugmentSettings = { crop: false, scale: [0.5, 1], ratio: [3 / 4, 4 / 3], flip: false };

export const PLAN_DEFAULTS: DataPlan = { valFraction: 0.2, seed: 0 };

/** Where the loaded set came from, as the panel names it. */
export interface DataOrigin {
  kind: 'builtin' | 'files';
  label: string;
}

/** The data set loaded into the lab, how it is split, and how training images are augmented (owned by the data panel). */
interface DataStore {
  info?: DatasetInfo;
  plan: DataPlan;
  augment: AugmentSettings;
  origin?: DataOrigin;
  /** A built-in set someone asked for (the offline demo) before the panel could load it; the panel loads it when the GPU is ready. */
  pendingBuiltin?: string;
  setInfo(info: DatasetInfo | undefined): void;
  setPlan(plan: Partial<DataPlan>): void;
  setAugment(patch: Partial<AugmentSettings>): void;
  setOrigin(origin: DataOrigin | undefined): void;
}

export const useDataStore = create<DataStore>((set) => ({
  plan: { ...PLAN_DEFAULTS },
  augment: { ...AUGMENT_DEFAULTS },
  setInfo: (info) => set({ info }),
  setPlan: (plan) => set((s) => ({ plan: { ...s.plan, ...plan } })),
  setAugment: (patch) => set((s) => ({ augment: { ...s.augment, ...patch } })),
  setOrigin: (origin) => set({ origin }),
}));

/** The TrainConfig.augment value for these settings; undefined when nothing is turned on. */
export function augmentationOf(a: AugmentSettings): Augmentation | undefined {
  if (!a.crop && !a.flip) return undefined;
  return { crop: a.crop ? { scale: [...a.scale], ratio: [...a.ratio] } : false, flip: a.flip };
}

/**
 * What a queued run should put in `RunSpec.train.augment`: the data panel's current toggles.
 * The run panel reads this when it builds a run's spec.
 */
export function currentAugmentation(): Augmentation | undefined {
  return augmentationOf(useDataStore.getState().augment);
}
