/**
 * The IDX format of MNIST and Fashion-MNIST: a 4-byte magic (two zero bytes, a type code, the
 * number of dimensions), each dimension as a big-endian u32, then the values, big-endian, row
 * after row. Labels are magic 0x00000801 (u8, 1 dimension), images 0x00000803 (u8, count × rows × cols).
 * Files are often gzipped; that is detected from the bytes, not the name.
 */
import { gunzipBounded, isGzip } from '../inflate';
import { LIMITS } from '../limits';
import { IoError } from '../errors';
import type { FileSource, ReadOptions } from '../source';
import { datasetImage, type DatasetImage, type ImageDataset } from './types';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

const IDX_TYPES = {
  0x08: { name: 'u8', size: 1 },
  0x09: { name: 'i8', size: 1 },
  0x0b: { name: 'i16', size: 2 },
  0x0c: { name: 'i32', size: 4 },
  0x0d: { name: 'f32', size: 4 },
  0x0e: { name: 'f64', size: 8 },
} as const;

export type IdxType = (typeof IDX_TYPES)[keyof typeof IDX_TYPES]['name'];

export interface IdxArray {
  type: IdxType;
  dims: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

function idxError(file: string, what: string): IoError {
  return new IoError('format', `${file}: ${what}. It is not an intact IDX file (MNIST format): download it again.`, file);
}

/**
 * gunzips when the bytes start with the gzip magic (checked against the gzip CRC, at most `limit`
 * bytes out), else returns them as they are.
 */
export function maybeGunzip(bytes: Uint8Array, file: string, limit: number = LIMITS.inflatedFileBytes): Uint8Array {
  return isGzip(bytes) ? gunzipBounded(bytes, { file, limit }) : bytes;
}

export function parseIdx(input: Uint8Array, file = 'IDX file'): IdxArray {
  const bytes = maybeGunzip(input, file);
  if (bytes.length < 4) throw idxError(file, `only ${bytes.length} bytes long`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw idxError(file, `starts with 0x${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join('')}, not the IDX magic 0x0000TTNN`);
  }
  const t = IDX_TYPES[bytes[2] as keyof typeof IDX_TYPES];
  if (!t) throw idxError(file, `has unknown value type code 0x${bytes[2].toString(16)}`);
  const ndims = bytes[3];
  if (ndims === 0) throw idxError(file, 'declares zero dimensions');
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) throw idxError(file, `is too short for its ${ndims} dimension sizes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerLength + count * t.size;
  if (bytes.length !== expected) {
    throw idxError(
      file,
      `declares ${t.name} data of shape [${dims.join(', ')}] (${expected} bytes with header) but has ${bytes.length} bytes${bytes.length < expected ? ' (truncated)' : ''}`,
    );
  }
  let data: IdxArray['data'];
  switch (t.name) {
    case 'u8':
      data = bytes.slice(headerLength);
      break;
    case 'i8':
      data = new Int8Array(bytes.slice(headerLength).buffer);
      break;
    default: {
      // Multi-byte values are big-endian in IDX; read them one by one through a DataView.
      const out = t.name === 'i16' ? new Int16Array(count) : t.name === 'i32' ? new Int32Array(count) : t.name === 'f32' ? new Float32Array(count) : new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const o = headerLength + i * t.size;
        out[i] =
          t.name === 'i16' ? view.getInt16(o, false) : t.name === 'i32' ? view.getInt32(o, false) : t.name === 'f32' ? view.getFloat32(o, false) : view.getFloat64(o, false);
      }
      data = out;
    }
  }
  return { type: t.name, dims, data };
}

export interface IdxDatasetOptions {
  classNames?: string[];
  /** For messages: the files' names or folder. */
  source?: string;
  imagesFile?: string;
  labelsFile?: string;
}

/** Pairs an images array (u8, N×rows×cols) with a labels array (u8, N) into the common data set type. */
export function idxDataset(images: IdxArray, labels: IdxArray, options: IdxDatasetOptions = {}): ImageDataset {
  const imagesFile = options.imagesFile ?? 'images file';
  const labelsFile = options.labelsFile ?? 'labels file';
  if (images.type !== 'u8' || images.dims.length !== 3) {
    throw idxError(imagesFile, `holds ${images.type} data of shape [${images.dims.join(', ')}], but an images file holds u8 of shape [count, rows, cols] (magic 0x00000803)`);
  }
  if (labels.type !== 'u8' || labels.dims.length !== 1) {
    throw idxError(labelsFile, `holds ${labels.type} data of shape [${labels.dims.join(', ')}], but a labels file holds u8 of shape [count] (magic 0x00000801)`);
  }
  const [n, rows, cols] = images.dims;
  if (labels.dims[0] !== n) {
    throw new IoError(
      'format',
      `${imagesFile} has ${n} images but ${labelsFile} has ${labels.dims[0]} labels. Use the images and labels files of the same split (train-* with train-*, t10k-* with t10k-*).`,
      labelsFile,
    );
  }
  let maxLabel = -1;
  for (const l of labels.data) maxLabel = Math.max(maxLabel, l);
  const classNames =
    options.classNames ??
    (/fashion/i.test(`${options.source ?? ''} ${imagesFile}`) ? FASHION_MNIST_CLASSES : maxLabel <= 9 ? MNIST_CLASSES : Array.from({ length: maxLabel + 1 }, (_, i) => `class ${i}`));
  if (maxLabel >= classNames.length) {
    throw new IoError('format', `${labelsFile} has label ${maxLabel}, but only ${classNames.length} class names were given (${classNames.join(', ')}).`, labelsFile);
  }
  const pixels = images.data as Uint8Array;
  const size = rows * cols;
  const list: DatasetImage[] = new Array(n);
  // Views into one buffer: 60,000 small images stay one allocation.
  for (let i = 0; i < n; i++) list[i] = datasetImage(pixels.subarray(i * size, (i + 1) * size), cols, rows, 1);
  return {
    images: list,
    labels: Int32Array.from(labels.data as Uint8Array),
    classNames: [...classNames],
    source: options.source ?? `${imagesFile} + ${labelsFile}`,
    skipped: [],
  };
}

/** train-images-idx3-ubyte.gz, t10k-labels.idx1-ubyte and the like. */
const IDX_NAME = /^(?:.*\/)?(train|t10k|test)[-_](images|labels)[-_.]idx([13])[-_.]ubyte(\.gz)?$/i;

export type IdxSplit = 'train' | 'test';

export interface IdxFiles {
  images: string;
  labels: string;
}

/** Finds the IDX files of each split among a folder's file names. */
export function findIdxFiles(names: string[]): Partial<Record<IdxSplit, IdxFiles>> {
  const found: Partial<Record<IdxSplit, Partial<IdxFiles>>> = {};
  for (const name of [...names].sort()) {
    const m = IDX_NAME.exec(name);
    if (!m) continue;
    const split: IdxSplit = m[1].toLowerCase() === 'train' ? 'train' : 'test';
    const kind = m[2].toLowerCase() as keyof IdxFiles;
    if ((kind === 'images') !== (m[3] === '3')) continue;
    const s = (found[split] ??= {});
    // Prefer an uncompressed copy when both exist: it needs no gunzip.
    if (!s[kind] || (s[kind]!.endsWith('.gz') && !name.endsWith('.gz'))) s[kind] = name;
  }
  const out: Partial<Record<IdxSplit, IdxFiles>> = {};
  for (const split of ['train', 'test'] as const) {
    const s = found[split];
    if (s?.images && s.labels) out[split] = { images: s.images, labels: s.labels };
  }
  return out;
}

/** Optional file of class names beside IDX files, one per line in label order. */
export const CLASS_NAMES_FILE = 'classes.txt';

export interface LoadIdxOptions extends ReadOptions {
  /** 'train' (train-*) or 'test' (t10k-*); default 'train'. */
  split?: IdxSplit;
  classNames?: string[];
}

/** Loads one split of an MNIST-style folder (e.g. /usr/share/datasets/fashion-mnist). */
export async function loadIdx(source: FileSource, options: LoadIdxOptions = {}): Promise<ImageDataset> {
  const split = options.split ?? 'train';
  const names = await source.list({ signal: options.signal });
  let files: IdxFiles | undefined;
  if (names) files = findIdxFiles(names)[split];
  else {
    const prefix = split === 'train' ? 'train' : 't10k';
    for (const gz of ['.gz', '']) {
      const f = { images: `${prefix}-images-idx3-ubyte${gz}`, labels: `${prefix}-labels-idx1-ubyte${gz}` };
      if ((await source.exists(f.images)) && (await source.exists(f.labels))) {
        files = f;
        break;
      }
    }
  }
  if (!files) {
    const prefix = split === 'train' ? 'train' : 't10k';
    throw new IoError(
      'not-found',
      `${source.description} has no IDX ${split} split: expected ${prefix}-images-idx3-ubyte and ${prefix}-labels-idx1-ubyte (optionally .gz), as in MNIST and Fashion-MNIST.`,
    );
  }
  const read = { signal: options.signal, onProgress: options.onProgress };
  const images = parseIdx(await source.readBytes(files.images, read), files.images);
  const labels = parseIdx(await source.readBytes(files.labels, read), files.labels);
  // IDX files carry no class names: a classes.txt beside them (one name per line, in label order) gives them.
  let classNames = options.classNames;
  if (!classNames && (names ? names.includes(CLASS_NAMES_FILE) : await source.exists(CLASS_NAMES_FILE))) {
    classNames = (await source.readText(CLASS_NAMES_FILE, { signal: options.signal }))
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean);
  }
  return idxDataset(images, labels, {
    classNames,
    source: `${source.description} (${split})`,
    imagesFile: files.images,
    labelsFile: files.labels,
  });
}
