import { describe, expect, it } from 'vitest';
import { datasetThumbnails, thumbnailOf } from './thumbnails';
import { datasetImage } from './types';

describe('sample thumbnails', () => {
  it('keeps small images as they are and averages large ones down to the size asked for', () => {
    const grey = thumbnailOf(datasetImage(Uint8Array.from([0, 50, 100, 250]), 2, 2, 1));
    expect(grey.width).toBe(2);
    expect(Array.from(grey.rgba)).toEqual([0, 0, 0, 255, 50, 50, 50, 255, 100, 100, 100, 255, 250, 250, 250, 255]);
    // 4×2 RGB halved: each output pixel is the mean of a 2×2 block.
    const rgb = new Uint8Array(4 * 2 * 3);
    for (let p = 0; p < 8; p++) rgb.set([p * 10, 100, p < 4 ? 0 : 200], p * 3);
    const small = thumbnailOf(datasetImage(rgb, 4, 2, 3), 2);
    expect([small.width, small.height]).toEqual([2, 1]);
    expect(Array.from(small.rgba)).toEqual([(0 + 10 + 40 + 50) / 4, 100, 100, 255, (20 + 30 + 60 + 70) / 4, 100, 100, 255]);
    expect(Array.from(thumbnailOf(datasetImage(Float32Array.from([0, 1]), 2, 1, 1)).rgba.filter((_, i) => i % 4 === 0))).toEqual([0, 255]);
  });

  it('takes the first images of each class, in class order', () => {
    const images = [0, 1, 2, 3, 4].map((v) => datasetImage(Uint8Array.from([v]), 1, 1, 1));
    const thumbs = datasetThumbnails({ images, labels: Int32Array.from([1, 0, 1, 1, 0]), classNames: ['a', 'b', 'c'] }, 2);
    expect(thumbs.map((t) => [t.label, t.index])).toEqual([[0, 1], [0, 4], [1, 0], [1, 2]]);
  });
});
