/**
 * The few-shot axis of a study: k images per class, drawn per seed from the training split (the
 * RandLoRA paper's 1/2/4/16-shot tables do the same); validation stays the full validation split.
 * The draw is src/io/datasets/split.ts's stratified `kShotPerClass` on the project's counter-based
 * generator, so the page and the CLI pick the same images for the same seed.
 */
import { kShotPerClass } from '../io/datasets/split';

export interface KShotSample {
  /** Indices into `labels`, shuffled across classes. */
  indices: Int32Array;
  /** Set when some class had fewer than k images (all of its images were taken). */
  note?: string;
}

/** k per class, seeded and deterministic; `within` restricts the draw (a training split's indices). */
export function sampleKShotWithNote(labels: ArrayLike<number>, k: number, seed: number, within?: ArrayLike<number>, classNames?: readonly string[]): KShotSample {
  const { indices, short } = kShotPerClass(labels, k, { seed, within });
  if (!short.length) return { indices };
  const list = short.map((s) => `${classNames?.[s.label] ?? `class ${s.label}`} (${s.available})`).join(', ');
  return { indices, note: `${short.length} class${short.length === 1 ? '' : 'es'} had fewer than ${k} training images and gave all they have: ${list}.` };
}

/** k per class, seeded and deterministic; a class with fewer than k gives all it has. */
export function sampleKShot(labels: ArrayLike<number>, k: number, seed: number, within?: ArrayLike<number>): Int32Array {
  return sampleKShotWithNote(labels, k, seed, within).indices;
}
