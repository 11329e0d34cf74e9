/** Rows of the ensemble's and the composition's accuracy tables, and the per-image temperature bars. */
import type { EnsembleOutcome } from '../../session/combineTypes';
import type { ComposeOutcome } from '../../session/composeTypes';
import { membersDisagree, type EnsembleThumbnail } from '../../session/ensembleImages';

export interface AccuracyRow {
  kind: 'member' | 'average' | 'oracle' | 'ensemble' | 'base' | 'sum' | 'composed';
  label: string;
  accuracy: number | null;
  note?: string;
}

export function ensembleRows(o: EnsembleOutcome): AccuracyRow[] {
  return [
    ...o.members.map((m): AccuracyRow => ({ kind: 'member', label: m.name, accuracy: m.accuracy, note: 'alone, with its own head' })),
    { kind: 'average', label: 'Uniform average of logits', accuracy: o.average, note: 'every member weighted the same' },
    { kind: 'oracle', label: 'Oracle: best member per image', accuracy: o.oracle, note: 'right when any member is right: the upper bound of choosing a member per image' },
    { kind: 'ensemble', label: 'Adaptive ensemble', accuracy: o.accuracy, note: `a temperature per member per image from the controller (${o.controllerParams.toLocaleString('en-US')} values)` },
  ];
}

export function composeRows(o: ComposeOutcome): AccuracyRow[] {
  // Under a frozen zero-shot head nothing but λ trains: the base is CLIP zero-shot.
  const head = o.head === 'zeroshot' ? 'the frozen zero-shot head' : o.head === 'zeroshot-init' ? 'the zero-shot head trained by the same recipe' : 'a head trained by the same recipe';
  return [
    { kind: 'base', label: o.head === 'zeroshot' ? 'Base model θ₀ (zero-shot)' : 'Base model θ₀', accuracy: o.baseAccuracy, note: `λ = 0, ${head}` },
    ...o.members.map((m): AccuracyRow => ({ kind: 'member', label: m.name, accuracy: m.accuracy, note: m.note ?? 'the run alone, with its own head' })),
    { kind: 'sum', label: 'Plain sum θ₀ + Σ τ', accuracy: o.sumAccuracy, note: `λ = 1 everywhere, ${head}` },
    { kind: 'composed', label: 'Composed (learned λ)', accuracy: o.finalValAccuracy, note: `${o.coefficients.taskVectors.length} task vectors × ${o.coefficients.blocks.length} blocks × K = ${o.coefficients.groups}` },
  ];
}

export interface TemperatureBar {
  name: string;
  temperature: number;
  /** Class the member predicts for the image, and whether that is right. */
  predicted: number;
  correct: boolean;
}

/** Each member's temperature for validation image `index` (its weight in the sum is 1 / T). */
export function temperatureBars(o: EnsembleOutcome, index: number): TemperatureBar[] {
  const t = o.perImage.temperatures[index];
  if (!t) return [];
  const label = o.perImage.labels[index];
  return o.members.map((m, i) => ({ name: m.name, temperature: t[i], predicted: o.perImage.memberPredictions[i][index], correct: o.perImage.memberPredictions[i][index] === label }));
}

/** The next validation image after `from` where the members disagree (where temperatures matter), wrapping; -1 if none. */
export function nextDisagreement(o: EnsembleOutcome, from: number): number {
  const N = o.perImage.labels.length;
  for (let s = 1; s <= N; s++) {
    const n = (from + s) % N;
    if (membersDisagree(o.perImage.memberPredictions, n)) return n;
  }
  return -1;
}

/** One clickable validation image of the ensemble's strip. */
export interface StripImage {
  row: number;
  thumbnail: EnsembleThumbnail;
  label: number;
  /** The members predict different classes: the temperatures decide. */
  disagree: boolean;
  /** The ensemble's prediction is the true class. */
  ensembleRight: boolean;
}

/** The ensemble's kept thumbnails in row order, each with what the page marks on it; empty when it kept none. */
export function imageStrip(o: EnsembleOutcome): StripImage[] {
  const N = o.perImage.labels.length;
  return (o.thumbnails ?? [])
    .filter((t) => t.row >= 0 && t.row < N)
    .sort((a, b) => a.row - b.row)
    .map((t) => ({
      row: t.row,
      thumbnail: t,
      label: o.perImage.labels[t.row],
      disagree: membersDisagree(o.perImage.memberPredictions, t.row),
      ensembleRight: o.perImage.ensemblePredictions[t.row] === o.perImage.labels[t.row],
    }));
}

/** The image shown first: the first one where the members disagree (among the strip's when it has any), else the first. */
export function firstImage(o: EnsembleOutcome): number {
  const strip = imageStrip(o);
  if (strip.length) return (strip.find((s) => s.disagree) ?? strip[0]).row;
  return Math.max(0, nextDisagreement(o, -1));
}
