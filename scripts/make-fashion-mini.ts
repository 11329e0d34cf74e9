/**
 * Writes the built-in data set, public/datasets/fashion-mnist-mini/: a seeded, class-balanced
 * subset of Fashion-MNIST (Zalando Research, MIT licence) in its own gzipped IDX format, so the
 * page has real images to train on with no network. Debian's dataset-fashion-mnist package
 * provides the source files.
 *
 *   npm run make-fashion-mini -- [--from /usr/share/datasets/fashion-mnist] [--out public/datasets/fashion-mnist-mini]
 *                                [--train-per-class 100] [--test-per-class 30] [--seed 2017]
 *
 * The same arguments always give byte-identical files (gzip without a timestamp); a test checks
 * that the committed files are what this script makes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'fflate';
import { loadIdx } from '../src/io/datasets/idx';
import { kShotPerClass } from '../src/io/datasets/split';
import type { ImageDataset } from '../src/io/datasets/types';
import { NodeFolderSource } from '../src/io/sources/nodeFolder';

export interface FashionMiniOptions {
  trainPerClass: number;
  testPerClass: number;
  seed: number;
}

export const FASHION_MINI_DEFAULTS: FashionMiniOptions = { trainPerClass: 100, testPerClass: 30, seed: 2017 };

/** The files the page asks for, in the order it lists them. */
export const FASHION_MINI_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

function idxFile(dims: number[], values: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header.set([0, 0, 0x08, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + values.length);
  out.set(header);
  out.set(values, header.length);
  return gzipSync(out, { level: 9, mtime: 0 });
}

/** k images per class, chosen with the seed, kept in the source's order. */
function subset(ds: ImageDataset, perClass: number, seed: number, prefix: 'train' | 't10k'): Map<string, Uint8Array> {
  const picked = kShotPerClass(ds.labels, perClass, { seed, numClasses: ds.classNames.length });
  if (picked.short.length > 0) throw new Error(`${ds.source}: classes ${picked.short.map((s) => s.label).join(', ')} have fewer than ${perClass} images`);
  const indices = Array.from(picked.indices).sort((a, b) => a - b);
  const { width, height } = ds.images[0];
  const pixels = new Uint8Array(indices.length * width * height);
  const labels = new Uint8Array(indices.length);
  indices.forEach((i, k) => {
    pixels.set(ds.images[i].data as Uint8Array, k * width * height);
    labels[k] = ds.labels[i];
  });
  return new Map([
    [`${prefix}-images-idx3-ubyte.gz`, idxFile([indices.length, height, width], pixels)],
    [`${prefix}-labels-idx1-ubyte.gz`, idxFile([indices.length], labels)],
  ]);
}

export function fashionMiniFiles(train: ImageDataset, test: ImageDataset, options: FashionMiniOptions = FASHION_MINI_DEFAULTS): Map<string, Uint8Array> {
  return new Map([...subset(train, options.trainPerClass, options.seed, 'train'), ...subset(test, options.testPerClass, options.seed + 1, 't10k')]);
}

export async function makeFashionMini(from: string, options: FashionMiniOptions = FASHION_MINI_DEFAULTS): Promise<Map<string, Uint8Array>> {
  const src = new NodeFolderSource(from);
  return fashionMiniFiles(await loadIdx(src, { split: 'train' }), await loadIdx(src, { split: 'test' }), options);
}

export function readme(options: FashionMiniOptions): string {
  return `# Fashion-MNIST mini

A small, class-balanced subset of [Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist)
by Zalando Research: ${options.trainPerClass} training images and ${options.testPerClass} test images for each of its
10 classes (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot),
28×28 grayscale, in the data set's own IDX format, gzipped. Rankscope offers it as
"Built-in: Fashion-MNIST mini" so the page has real images to train on without a network.

Made by \`scripts/make-fashion-mini.ts\` from Debian's \`dataset-fashion-mnist\` package
(\`/usr/share/datasets/fashion-mnist/\`), with seed ${options.seed} (training images) and ${options.seed + 1} (test images):
the images of each class are picked by Rankscope's seeded generator and kept in their original order.
Running the script again gives byte-identical files.

Fashion-MNIST is released under the MIT licence (see LICENSE in this folder),
copyright 2017 Zalando SE.

Xiao, Rasul and Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning
Algorithms", arXiv:1708.07747 (2017).
`;
}

export const LICENSE = `The MIT License (MIT)

Copyright (c) 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;

function parseArgs(argv: string[]): { from: string; out: string; options: FashionMiniOptions } {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const int = (flag: string, d: number) => {
    const v = get(flag);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} takes a whole number; got "${v}"`);
    return n;
  };
  return {
    from: get('--from') ?? '/usr/share/datasets/fashion-mnist',
    out: get('--out') ?? 'public/datasets/fashion-mnist-mini',
    options: {
      trainPerClass: int('--train-per-class', FASHION_MINI_DEFAULTS.trainPerClass),
      testPerClass: int('--test-per-class', FASHION_MINI_DEFAULTS.testPerClass),
      seed: int('--seed', FASHION_MINI_DEFAULTS.seed),
    },
  };
}

export async function main(argv: string[]): Promise<void> {
  const { from, out, options } = parseArgs(argv);
  const files = await makeFashionMini(from, options);
  await mkdir(out, { recursive: true });
  files.set('README.md', new TextEncoder().encode(readme(options)));
  files.set('LICENSE', new TextEncoder().encode(LICENSE));
  for (const [name, bytes] of files) {
    await writeFile(join(out, name), bytes);
    console.log(`${join(out, name)}  ${bytes.length} bytes`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
