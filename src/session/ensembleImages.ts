/**
 * Which validation images an ensemble keeps a thumbnail of, so the page can offer them to click
 * without the worker sending the whole validation split: the first few (whatever they are) and
 * then those where the members predict different classes, where the controller's temperatures
 * decide the answer. Bounded, so the outcome stays small (at most SHOWN_FIRST + SHOWN_DISAGREEMENTS
 * thumbnails of at most THUMBNAIL_SIDE pixels a side: 1 MiB of RGBA at worst) and fits the archive.
 */
import { thumbnailOf } from '../io/datasets/thumbnails';
import type { PackedImages } from '../train/data';

/** Thumbnails of the first validation images, whatever the members predict. */
export const SHOWN_FIRST = 24;
/** At most this many more, of images after those where the members disagree. */
export const SHOWN_DISAGREEMENTS = 40;
/** The longer side of a thumbnail; smaller images keep their own size. */
export const THUMBNAIL_SIDE = 64;

/** One validation image as the page draws it; `row` indexes the outcome's `perImage` arrays. */
export interface EnsembleThumbnail {
  row: number;
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

/** Whether the members predict different classes for validation row `row` (`memberPredictions[member][row]`). */
export function membersDisagree(memberPredictions: readonly (readonly number[])[], row: number): boolean {
  const first = memberPredictions[0]?.[row];
  return memberPredictions.some((p) => p[row] !== first);
}

/** The rows to keep thumbnails of, ascending: the first `first` of `count`, then up to `disagreements` later ones where the members disagree. */
export function shownRows(memberPredictions: readonly (readonly number[])[], count: number, first = SHOWN_FIRST, disagreements = SHOWN_DISAGREEMENTS): number[] {
  const rows: number[] = [];
  for (let n = 0; n < Math.min(first, count); n++) rows.push(n);
  let more = 0;
  for (let n = first; n < count && more < disagreements; n++) {
    if (membersDisagree(memberPredictions, n)) {
      rows.push(n);
      more++;
    }
  }
  return rows;
}

/**
 * Thumbnails of validation rows `rows`; row n is image `valIndices[n]` of `val` (the order the
 * members read the validation split in, so it matches `perImage`).
 */
export function ensembleThumbnails(val: PackedImages, valIndices: readonly number[], rows: readonly number[], side = THUMBNAIL_SIDE): EnsembleThumbnail[] {
  return rows.map((row) => {
    const im = val.images[valIndices[row]];
    if (!im) throw new Error(`Validation row ${row} has no image (the split has ${valIndices.length} rows): the ensemble's rows and the lab's split disagree.`);
    return { row, ...thumbnailOf(im, side) };
  });
}
