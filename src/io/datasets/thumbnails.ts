/**
 * Small RGBA copies of a few images per class, for the data panel's sample grid. Large photos are
 * shrunk (area average) so that a hundred classes of camera pictures still cross from the worker
 * to the page in a moment; small images (MNIST, CIFAR) are kept at their own size.
 */
import type { DatasetImage, ImageDataset } from './types';

export interface Thumbnail {
  label: number;
  /** Index of the image in the data set. */
  index: number;
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

/** One image (a loaded one, or a packed working copy) as RGBA, at most `maxSide` pixels on its longer side. */
export function thumbnailOf(im: Pick<DatasetImage, 'data' | 'width' | 'height'> & { channels: number }, maxSide = 64): { width: number; height: number; rgba: Uint8ClampedArray } {
  const scale = Math.min(1, maxSide / Math.max(im.width, im.height));
  const width = Math.max(1, Math.round(im.width * scale));
  const height = Math.max(1, Math.round(im.height * scale));
  const floatScale = im.data instanceof Float32Array ? (im.data.reduce((m, v) => Math.max(m, v), 0) <= 1 ? 255 : 1) : 1;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor((y * im.height) / height);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * im.height) / height));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor((x * im.width) / width);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * im.width) / width));
      const sum = [0, 0, 0];
      for (let sy = y0; sy < y1; sy++) {
        for (let sx = x0; sx < x1; sx++) {
          const p = (sy * im.width + sx) * im.channels;
          for (let c = 0; c < 3; c++) sum[c] += im.data[p + (im.channels === 1 ? 0 : c)];
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (y * width + x) * 4;
      for (let c = 0; c < 3; c++) rgba[o + c] = (sum[c] / n) * floatScale;
      rgba[o + 3] = 255;
    }
  }
  return { width, height, rgba };
}

/** The first `perClass` images of every class, as thumbnails, in class order. */
export function datasetThumbnails(ds: Pick<ImageDataset, 'images' | 'labels' | 'classNames'>, perClass: number, maxSide = 64): Thumbnail[] {
  const byClass: number[][] = ds.classNames.map(() => []);
  for (let i = 0; i < ds.labels.length; i++) {
    const list = byClass[ds.labels[i]];
    if (list && list.length < perClass) list.push(i);
  }
  return byClass.flatMap((list, label) => list.map((index) => ({ label, index, ...thumbnailOf(ds.images[index], maxSide) })));
}
