import { sampleKShot } from '../study/kshot';
import type { LabData } from './run';

/**
 * A run's own few-shot training set: k images per class drawn (with the run's seed) from the lab's
 * training split, as the RandLoRA paper's few-shot tables do per seed. Validation stays whole, so
 * every run of a study is scored on the same images. Indices only: nothing is copied.
 */
export function withKShot(data: LabData, kShot: { k: number; seed: number } | undefined): LabData {
  if (!kShot) return data;
  return { ...data, trainIndices: Array.from(sampleKShot(data.train.labels, kShot.k, kShot.seed, data.trainIndices)) };
}
