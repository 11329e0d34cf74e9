/**
 * Seeded train/validation splits and k-shot subsets. Randomness comes from the project's
 * counter-based generator (src/engine/random.ts) on the `dataSplit` stream, so a run record's
 * seed reproduces its exact images anywhere, in the page or the CLI.
 *
 * Both are stratified: every class keeps its share in validation and gets its k examples, which
 * matters for the small, uneven data sets people bring.
 */
import { hash32, randU32 } from '../../engine/random';
import { STREAMS } from '../../engine/streams';

/** Fisher–Yates with draws from randU32; `salt` separates shuffles made from one seed. */
export function seededShuffle<T extends { length: number; [i: number]: number }>(arr: T, seed: number, salt = 0): T {
  const s = hash32((seed >>> 0) ^ Math.imul(salt + 1, 0x9e3779b9));
  for (let i = arr.length - 1; i > 0; i--) {
    // Modulo bias is below 2^-20 for any data set that fits in memory.
    const j = randU32(s, STREAMS.dataSplit, i) % (i + 1);
    const t = arr[i];
    arr[i] = arr[j];
    arr[j] = t;
  }
  return arr;
}

/** Indices of each class, in class order; `within` restricts to those indices. */
function indicesByClass(labels: ArrayLike<number>, numClasses: number, within?: ArrayLike<number>): number[][] {
  const out: number[][] = Array.from({ length: numClasses }, () => []);
  const n = within ? within.length : labels.length;
  for (let k = 0; k < n; k++) {
    const i = within ? within[k] : k;
    const l = labels[i];
    if (!(l >= 0 && l < numClasses)) throw new RangeError(`Label ${l} at index ${i} is outside 0..${numClasses - 1}.`);
    out[l].push(i);
  }
  return out;
}

function numClassesOf(labels: ArrayLike<number>): number {
  let m = -1;
  for (let i = 0; i < labels.length; i++) m = Math.max(m, labels[i]);
  return m + 1;
}

export interface SplitOptions {
  /** Share of each class put into validation, 0 ≤ f < 1. */
  valFraction: number;
  seed: number;
  numClasses?: number;
}

export interface Split {
  train: Int32Array;
  val: Int32Array;
}

/**
 * Per class, round(count × valFraction) images go to validation (at least one when the class has
 * two or more and valFraction > 0, so no class is missing from the accuracy). Both lists come
 * out shuffled.
 */
export function trainValSplit(labels: ArrayLike<number>, options: SplitOptions): Split {
  const { valFraction, seed } = options;
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction must be in [0, 1); got ${valFraction}.`);
  const groups = indicesByClass(labels, options.numClasses ?? numClassesOf(labels));
  const train: number[] = [];
  const val: number[] = [];
  groups.forEach((g, c) => {
    const idx = seededShuffle(Int32Array.from(g), seed, 2 * c);
    let nVal = Math.round(idx.length * valFraction);
    if (valFraction > 0 && nVal === 0 && idx.length >= 2) nVal = 1;
    for (let k = 0; k < idx.length; k++) (k < nVal ? val : train).push(idx[k]);
  });
  return { train: seededShuffle(Int32Array.from(train), seed, -1), val: seededShuffle(Int32Array.from(val), seed, -2) };
}

export interface KShotOptions {
  seed: number;
  /** Draw only from these indices (a training split), so validation stays unseen. */
  within?: ArrayLike<number>;
  numClasses?: number;
}

export interface KShot {
  indices: Int32Array;
  /** Classes that had fewer than k images: all of theirs were taken. */
  short: { label: number; available: number }[];
}

/** k images of every class, chosen by seed; shuffled across classes. */
export function kShotPerClass(labels: ArrayLike<number>, k: number, options: KShotOptions): KShot {
  if (!(Number.isInteger(k) && k > 0)) throw new RangeError(`k must be a positive integer; got ${k}.`);
  const groups = indicesByClass(labels, options.numClasses ?? numClassesOf(labels), options.within);
  const picked: number[] = [];
  const short: KShot['short'] = [];
  groups.forEach((g, c) => {
    // Odd salts: never the same permutation as the split's even ones for this seed.
    const idx = seededShuffle(Int32Array.from(g), options.seed, 2 * c + 1);
    if (idx.length < k) short.push({ label: c, available: idx.length });
    for (let i = 0; i < Math.min(k, idx.length); i++) picked.push(idx[i]);
  });
  return { indices: seededShuffle(Int32Array.from(picked), options.seed, -3), short };
}
