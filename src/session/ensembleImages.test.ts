import { describe, expect, it } from 'vitest';
import type { PackedImages } from '../train/data';
import { ensembleThumbnails, membersDisagree, shownRows } from './ensembleImages';

describe('which validation images an ensemble keeps thumbnails of', () => {
  // Two members over 10 rows; they disagree on rows 1, 5, 6 and 9.
  const preds = [
    [0, 1, 2, 0, 1, 2, 0, 1, 2, 0],
    [0, 2, 2, 0, 1, 0, 1, 1, 2, 1],
  ];

  it('marks rows where any member predicts another class', () => {
    expect([...Array(10).keys()].filter((n) => membersDisagree(preds, n))).toEqual([1, 5, 6, 9]);
    // A third member that agrees with neither makes row 0 a disagreement too.
    expect(membersDisagree([...preds, [1, 1, 2, 0, 1, 2, 0, 1, 2, 0]], 0)).toBe(true);
    expect(membersDisagree([[3]], 0)).toBe(false);
  });

  it('keeps the first rows, then only later disagreements, up to the bound, in row order', () => {
    expect(shownRows(preds, 10, 3, 10)).toEqual([0, 1, 2, 5, 6, 9]);
    expect(shownRows(preds, 10, 3, 2)).toEqual([0, 1, 2, 5, 6]);
    expect(shownRows(preds, 10, 0, 0)).toEqual([]);
    // Fewer rows than `first`: all of them, nothing twice.
    expect(shownRows(preds, 4, 24, 40)).toEqual([0, 1, 2, 3]);
    // The defaults bound a large split with members that disagree everywhere to 24 + 40.
    const N = 1000;
    const all = [Array.from({ length: N }, () => 0), Array.from({ length: N }, () => 1)];
    const rows = shownRows(all, N);
    expect(rows).toHaveLength(64);
    expect(rows.slice(0, 24)).toEqual([...Array(24).keys()]);
    expect(rows.at(-1)).toBe(63);
  });

  it('draws row n from validation image valIndices[n], grey expanded to RGBA', () => {
    // Three 2×2 grey images whose pixels are their own index × 10; the split reads them as 2, 0.
    const images = [0, 1, 2].map((i) => ({ data: new Uint8Array(4).fill(i * 10), width: 2, height: 2, channels: 1 }));
    const val = { count: 3, images, channels: 1, labels: Int32Array.from([0, 1, 0]), classNames: ['a', 'b'] } as PackedImages;
    const thumbs = ensembleThumbnails(val, [2, 0], [1, 0]);
    expect(thumbs.map((t) => [t.row, t.width, t.height])).toEqual([
      [1, 2, 2],
      [0, 2, 2],
    ]);
    expect(Array.from(thumbs[0].rgba.subarray(0, 4))).toEqual([0, 0, 0, 255]);
    expect(Array.from(thumbs[1].rgba.subarray(0, 4))).toEqual([20, 20, 20, 255]);
    // A 200×100 image shrinks to the 64-pixel side, aspect kept.
    const big = { ...val, images: [{ data: new Uint8Array(200 * 100 * 3), width: 200, height: 100, channels: 3 }] };
    expect(ensembleThumbnails(big, [0], [0]).map((t) => [t.width, t.height, t.rgba.length])).toEqual([[64, 32, 64 * 32 * 4]]);
    expect(() => ensembleThumbnails(val, [2, 0], [5])).toThrow(/row 5 has no image \(the split has 2 rows\)/);
  });
});
