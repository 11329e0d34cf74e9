import { existsSync } from 'node:fs';
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { NodeFolderSource } from '../sources/nodeFolder';
import { DroppedFilesSource } from '../sources/droppedFiles';
import { FASHION_MNIST_CLASSES, findIdxFiles, idxDataset, loadIdx, parseIdx } from './idx';
import { loadImageDataset, detectDatasetLayout } from './load';
import { classCounts } from './types';

const FASHION = '/usr/share/datasets/fashion-mnist';

function idxBytes(type: number, dims: number[], values: number[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4 + 4 * dims.length + values.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, type, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(values, 4 + 4 * dims.length);
  return out;
}

describe('IDX reader', () => {
  it.skipIf(!existsSync(FASHION))('reads the real Fashion-MNIST test split from Debian’s dataset-fashion-mnist', async () => {
    const ds = await loadIdx(new NodeFolderSource(FASHION), { split: 'test' });
    expect(ds.images.length).toBe(10000);
    expect(ds.labels.length).toBe(10000);
    expect(ds.images.every((im) => im.width === 28 && im.height === 28 && im.channels === 1 && im.data.length === 784)).toBe(true);
    expect(ds.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(classCounts(ds)).toEqual(new Array(10).fill(1000));
    // Images are views into one buffer, and they are real pictures, not blank.
    expect(ds.images[1].data.buffer).toBe(ds.images[0].data.buffer);
    const mean = Array.from(ds.images[0].data).reduce((a, b) => a + b, 0) / 784;
    expect(mean).toBeGreaterThan(10);
    expect(mean).toBeLessThan(200);
    expect(ds.source).toBe(`folder ${FASHION} (test)`);
    expect(await detectDatasetLayout(new NodeFolderSource(FASHION))).toBe('idx');
  });

  it('reads gzipped and plain files alike and pairs images with labels', async () => {
    const images = idxBytes(0x08, [3, 2, 2], [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
    const labels = idxBytes(0x08, [3], [2, 0, 2]);
    expect(parseIdx(gzipSync(images))).toEqual(parseIdx(images));
    const src = new DroppedFilesSource([
      { file: new Blob([new Uint8Array(gzipSync(images))]), path: 'digits/train-images-idx3-ubyte.gz' },
      { file: new Blob([labels]), path: 'digits/train-labels-idx1-ubyte' },
      { file: new Blob(['hi']), path: 'digits/README' },
    ]);
    const ds = await loadImageDataset(src, { decode: () => Promise.reject(new Error('not used')) });
    expect(ds.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect([...ds.labels]).toEqual([2, 0, 2]);
    expect([...ds.images[1].data]).toEqual([10, 11, 12, 13]);
    expect(ds.images[1]).toMatchObject({ width: 2, height: 2, channels: 1 });
    await expect(loadIdx(src, { split: 'test' })).rejects.toThrow(/has no IDX test split: expected t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte/);
  });

  it('takes class names from a classes.txt beside the files, in label order', async () => {
    const images = idxBytes(0x08, [2, 1, 1], [5, 6]);
    const labels = idxBytes(0x08, [2], [1, 0]);
    const src = new DroppedFilesSource([
      { file: new Blob([images]), path: 'fashion-heldout/train-images-idx3-ubyte' },
      { file: new Blob([labels]), path: 'fashion-heldout/train-labels-idx1-ubyte' },
      { file: new Blob(['Pullover\nCoat\n']), path: 'fashion-heldout/classes.txt' },
    ]);
    const ds = await loadIdx(src);
    expect(ds.classNames).toEqual(['Pullover', 'Coat']);
    expect([...ds.labels]).toEqual([1, 0]);
  });

  it('parses big-endian multi-byte types', () => {
    const b = new Uint8Array(4 + 4 + 8);
    const v = new DataView(b.buffer);
    b.set([0, 0, 0x0d, 1]);
    v.setUint32(4, 2, false);
    v.setFloat32(8, 1.5, false);
    v.setFloat32(12, -2, false);
    expect(parseIdx(b)).toEqual({ type: 'f32', dims: [2], data: Float32Array.of(1.5, -2) });
  });

  it('validates magic, sizes and pairing with messages that name the file', () => {
    expect(() => parseIdx(Uint8Array.of(1, 2, 8, 1, 0, 0, 0, 0), 'x.idx')).toThrow(/^x\.idx: starts with 0x01020801, not the IDX magic/);
    expect(() => parseIdx(Uint8Array.of(0, 0, 0x42, 1, 0, 0, 0, 0), 'x.idx')).toThrow(/unknown value type code 0x42/);
    expect(() => parseIdx(idxBytes(0x08, [5], [1, 2, 3]), 'l.idx')).toThrow(/l\.idx: declares u8 data of shape \[5\] \(13 bytes with header\) but has 11 bytes \(truncated\)/);
    expect(() => parseIdx(Uint8Array.of(0x1f, 0x8b, 1, 2, 3), 'z.gz')).toThrow(/z\.gz is damaged: its compressed data does not inflate/);
    const images = parseIdx(idxBytes(0x08, [2, 1, 1], [0, 1]));
    expect(() => idxDataset(images, parseIdx(idxBytes(0x08, [3], [0, 1, 2])), { imagesFile: 'i', labelsFile: 'l' })).toThrow(/i has 2 images but l has 3 labels/);
    expect(() => idxDataset(parseIdx(idxBytes(0x08, [2], [0, 1])), images, { imagesFile: 'i' })).toThrow(/i: holds u8 data of shape \[2\], but an images file holds u8 of shape \[count, rows, cols\]/);
    expect(() => idxDataset(images, parseIdx(idxBytes(0x08, [2], [0, 4])), { classNames: ['a', 'b'], labelsFile: 'l' })).toThrow(/l has label 4, but only 2 class names/);
  });

  it('finds the files of each split by their usual names', () => {
    expect(
      findIdxFiles(['t10k-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte.gz', 'train-images.idx3-ubyte', 'train-labels.idx1-ubyte', 'train-labels-idx3-ubyte']),
    ).toEqual({
      train: { images: 'train-images.idx3-ubyte', labels: 'train-labels.idx1-ubyte' },
      test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte.gz' },
    });
  });
});
