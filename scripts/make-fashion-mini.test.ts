import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_CLASSES, loadIdx } from '../src/io/datasets/idx';
import { loadImageDataset } from '../src/io/datasets/load';
import { classCounts } from '../src/io/datasets/types';
import { NodeFolderSource } from '../src/io/sources/nodeFolder';
import { FASHION_MINI_FILES, LICENSE, makeFashionMini, readme, FASHION_MINI_DEFAULTS } from './make-fashion-mini';

const OUT = join(import.meta.dirname, '..', 'public', 'datasets', 'fashion-mnist-mini');
const FASHION = '/usr/share/datasets/fashion-mnist';

describe('the built-in Fashion-MNIST mini set', () => {
  it('is exactly what the seeded script makes from Debian’s Fashion-MNIST', async () => {
    const files = await makeFashionMini(FASHION);
    expect([...files.keys()].sort()).toEqual([...FASHION_MINI_FILES].sort());
    for (const [name, bytes] of files) {
      expect(new Uint8Array(await readFile(join(OUT, name))), name).toEqual(bytes);
    }
    expect(await readFile(join(OUT, 'README.md'), 'utf8')).toBe(readme(FASHION_MINI_DEFAULTS));
    expect(await readFile(join(OUT, 'LICENSE'), 'utf8')).toBe(LICENSE);
  });

  it('loads as 100 training and 30 test images per class, all real Fashion-MNIST images', async () => {
    const src = new NodeFolderSource(OUT);
    const train = await loadImageDataset(src, { decode: () => Promise.reject(new Error('IDX needs no decoder')) });
    expect(train.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(classCounts(train)).toEqual(new Array(10).fill(100));
    const test = await loadIdx(src, { split: 'test' });
    expect(classCounts(test)).toEqual(new Array(10).fill(30));
    // Every mini training image is one of the full set's, with the same label.
    const full = await loadIdx(new NodeFolderSource(FASHION), { split: 'train' });
    const key = (d: ArrayLike<number>) => Array.from(d).join(',');
    const labelOf = new Map(full.images.map((im, i) => [key(im.data), full.labels[i]]));
    train.images.slice(0, 50).forEach((im, i) => expect(labelOf.get(key(im.data))).toBe(train.labels[i]));
  });
});
