/**
 * CIFAR-10 and CIFAR-100 in their "binary version" (https://www.cs.toronto.edu/~kriz/cifar.html):
 * fixed-size records, one per image, of the label byte(s) followed by 3,072 pixel bytes, 1,024
 * red then 1,024 green then 1,024 blue values, each a 32×32 image row after row.
 *
 * - CIFAR-10: records of 1 + 3072 bytes in data_batch_1.bin … data_batch_5.bin (training) and
 *   test_batch.bin; class names one per line in batches.meta.txt.
 * - CIFAR-100: records of 2 + 3072 bytes (coarse label, then fine label) in train.bin and
 *   test.bin; the fine label is used, named by fine_label_names.txt when it is there.
 *
 * A file that is not a whole number of records is reported in `skipped` and the others load.
 */
import { IoError, throwIfAborted } from '../errors';
import type { FileSource } from '../source';
import { datasetImage, type DatasetImage, type ImageDataset, type SkippedFile } from './types';

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export const CIFAR100_FINE_CLASSES = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
];

export type CifarKind = 'cifar10' | 'cifar100';

const PIXELS = 32 * 32 * 3;

export function cifarRecordSize(kind: CifarKind): number {
  return (kind === 'cifar10' ? 1 : 2) + PIXELS;
}

export interface CifarFiles {
  kind: CifarKind;
  train: string[];
  test: string[];
  /** batches.meta.txt or fine_label_names.txt, when present. */
  names?: string;
}

const CIFAR10_BATCH = /(?:^|\/)(data_batch_\d+|test_batch)\.bin$/i;
const CIFAR100_BATCH = /(?:^|\/)(train|test)\.bin$/i;

/** The CIFAR batch files among a listing, or null when there are none. */
export function findCifarFiles(names: readonly string[]): CifarFiles | null {
  const sorted = [...names].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const ten = sorted.filter((n) => CIFAR10_BATCH.test(n));
  if (ten.length > 0) {
    return {
      kind: 'cifar10',
      train: ten.filter((n) => /data_batch_\d+\.bin$/i.test(n)),
      test: ten.filter((n) => /test_batch\.bin$/i.test(n)),
      names: sorted.find((n) => /(?:^|\/)batches\.meta\.txt$/i.test(n)),
    };
  }
  const hundred = sorted.filter((n) => CIFAR100_BATCH.test(n));
  if (hundred.length > 0) {
    return {
      kind: 'cifar100',
      train: hundred.filter((n) => /(?:^|\/)train\.bin$/i.test(n)),
      test: hundred.filter((n) => /(?:^|\/)test\.bin$/i.test(n)),
      names: sorted.find((n) => /(?:^|\/)fine_label_names\.txt$/i.test(n)),
    };
  }
  return null;
}

/**
 * Splits one batch file into images (32×32 RGB, channel-last) and labels. Throws, naming the
 * file, when its length is not a whole number of records.
 */
export function parseCifarBatch(bytes: Uint8Array, kind: CifarKind, file: string): { images: DatasetImage[]; labels: number[] } {
  const record = cifarRecordSize(kind);
  if (bytes.length === 0 || bytes.length % record !== 0) {
    const other = kind === 'cifar10' ? 'cifar100' : 'cifar10';
    const hint = bytes.length > 0 && bytes.length % cifarRecordSize(other) === 0 ? ` (it would fit ${other === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100'} records: check the file name)` : '';
    throw new IoError(
      'format',
      `${file}: ${bytes.length} bytes is not a whole number of ${record}-byte ${kind === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100'} records${hint}; the file is truncated or not a CIFAR binary batch. Download the "binary version" again`,
      file,
    );
  }
  const n = bytes.length / record;
  const classes = kind === 'cifar10' ? CIFAR10_CLASSES.length : CIFAR100_FINE_CLASSES.length;
  const labelAt = kind === 'cifar10' ? 0 : 1; // CIFAR-100: coarse label, then fine label
  const images: DatasetImage[] = new Array(n);
  const labels: number[] = new Array(n);
  // One allocation for the whole file; images are views into it.
  const all = new Uint8Array(n * PIXELS);
  for (let i = 0; i < n; i++) {
    const r = i * record;
    labels[i] = bytes[r + labelAt];
    if (labels[i] >= classes) {
      throw new IoError('format', `${file}: record ${i} has label ${labels[i]}, but ${kind === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100'} has ${classes} classes; it is not a ${kind === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100'} batch.`, file);
    }
    const planes = r + record - PIXELS;
    const out = all.subarray(i * PIXELS, (i + 1) * PIXELS);
    for (let p = 0; p < 1024; p++) {
      out[3 * p] = bytes[planes + p];
      out[3 * p + 1] = bytes[planes + 1024 + p];
      out[3 * p + 2] = bytes[planes + 2048 + p];
    }
    images[i] = datasetImage(out, 32, 32, 3);
  }
  return { images, labels };
}

export interface LoadCifarOptions {
  split?: 'train' | 'test';
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number; file: string }) => void;
}

/** Loads one split (training batches by default; the test batch when asked, or when it is all there is). */
export async function loadCifar(source: FileSource, files: CifarFiles, options: LoadCifarOptions = {}): Promise<ImageDataset> {
  const label = files.kind === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100';
  let split = options.split ?? 'train';
  if (files[split].length === 0) split = split === 'train' ? 'test' : 'train';
  const list = files[split];
  let classNames = files.kind === 'cifar10' ? CIFAR10_CLASSES : CIFAR100_FINE_CLASSES;
  const skipped: SkippedFile[] = [];
  if (files.names) {
    try {
      const names = (await source.readText(files.names, { signal: options.signal }))
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter(Boolean);
      if (names.length >= 2) classNames = names;
      else skipped.push({ file: files.names, reason: `holds ${names.length} class names, so the standard ${label} names are used` });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      skipped.push({ file: files.names, reason: `could not be read (${(e as Error).message}), so the standard ${label} names are used` });
    }
  }
  const images: DatasetImage[] = [];
  const labels: number[] = [];
  let done = 0;
  for (const file of list) {
    throwIfAborted(options.signal, file, source.description);
    try {
      const bytes = await source.readBytes(file, { signal: options.signal });
      const batch = parseCifarBatch(bytes, files.kind, file);
      // Loops, not push(...batch): spreading 160k records overflows the call stack.
      for (const image of batch.images) images.push(image);
      for (const l of batch.labels) labels.push(l);
    } catch (e) {
      if (e instanceof IoError && (e.code === 'aborted' || e.code === 'network')) throw e;
      if ((e as Error).name === 'AbortError') throw e;
      skipped.push({ file, reason: (e as Error).message });
    }
    options.onProgress?.({ done: ++done, total: list.length, file });
  }
  if (images.length === 0) {
    const why = skipped.map((s) => `${s.file}: ${s.reason}`).join('; ');
    throw new IoError('format', `${source.description} holds no readable ${label} ${split} batches (${why}).`, list[0]);
  }
  return {
    images,
    labels: Int32Array.from(labels),
    classNames: [...classNames],
    source: `${source.description} (${label}, ${split})`,
    skipped,
  };
}
