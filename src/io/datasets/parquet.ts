/**
 * A Hugging Face Hub image data set stored as parquet (what `datasets` writes and the Hub's
 * "refs/convert/parquet" branch serves): an image column of structs {bytes, path} and a label
 * column, integers named by a ClassLabel feature in the file's `huggingface` metadata, or
 * strings. Read with hyparquet; each row's image bytes go through the decoder passed in (PNG or
 * JPEG under Node, createImageBitmap in the page). A row that does not decode is reported in
 * `skipped` and the others load.
 */
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { IoError, throwIfAborted } from '../errors';
import { checkParquetPages } from './parquetPages';
import type { FileSource } from '../source';
import type { ImageDecoder } from './imageFolder';
import type { DatasetImage, ImageDataset, SkippedFile } from './types';

interface SchemaNode {
  children: SchemaNode[];
  element: { name: string; type?: string; converted_type?: string; logical_type?: { type: string } };
}

interface HfFeature {
  _type?: string;
  names?: string[];
  dtype?: string;
}

/** The `huggingface` metadata's features, in either layout `datasets` has written. */
function hfFeatures(kv: Array<{ key: string; value?: string }> | undefined): Record<string, HfFeature> {
  const raw = kv?.find((k) => k.key === 'huggingface')?.value;
  if (!raw) return {};
  try {
    const meta = JSON.parse(raw) as { info?: { features?: Record<string, HfFeature> }; features?: Record<string, HfFeature> };
    return meta.info?.features ?? meta.features ?? {};
  } catch {
    return {};
  }
}

const LABEL_NAMES = ['label', 'labels', 'fine_label', 'class', 'classes', 'category', 'target', 'y'];

export interface ParquetColumns {
  image: string;
  label: string;
  /** From a ClassLabel feature; absent when labels are strings or unnamed integers. */
  classNames?: string[];
}

/** Finds the image struct column and the label column of a parquet file's schema and metadata. */
export function findParquetColumns(bytes: Uint8Array, file: string): ParquetColumns {
  const buffer = toArrayBuffer(bytes);
  let meta;
  try {
    meta = parquetMetadata(buffer);
  } catch (e) {
    throw new IoError('format', `${file} is not a readable parquet file (${(e as Error).message}). Download it again.`, file, { cause: e });
  }
  const features = hfFeatures(meta.key_value_metadata);
  const columns = (parquetSchema(meta) as unknown as SchemaNode).children;
  const isImageStruct = (c: SchemaNode) => c.children.some((k) => k.element.name === 'bytes' && k.element.type === 'BYTE_ARRAY');
  const image =
    columns.find((c) => features[c.element.name]?._type === 'Image' && isImageStruct(c)) ??
    columns.find((c) => isImageStruct(c) && /^(image|img|pixel_values|picture|photo)s?$/i.test(c.element.name)) ??
    columns.find(isImageStruct);
  const describe = columns.map((c) => (c.children.length ? `${c.element.name} {${c.children.map((k) => k.element.name).join(', ')}}` : c.element.name)).join(', ');
  if (!image) {
    throw new IoError(
      'format',
      `${file} has no image column (a struct with a "bytes" field, as Hugging Face datasets store images); its columns are ${describe}. Use the parquet files of an image classification data set.`,
      file,
    );
  }
  const scalar = columns.filter((c) => c !== image && c.children.length === 0);
  const classLabels = scalar.filter((c) => features[c.element.name]?._type === 'ClassLabel');
  // CIFAR-100 on the Hub has coarse_label and fine_label: the fine one is the task.
  const label =
    classLabels.find((c) => /fine/i.test(c.element.name)) ??
    classLabels.find((c) => LABEL_NAMES.includes(c.element.name.toLowerCase())) ??
    classLabels[0] ??
    LABEL_NAMES.map((n) => scalar.find((c) => c.element.name.toLowerCase() === n)).find(Boolean);
  if (!label) {
    throw new IoError(
      'format',
      `${file} has an image column (${image.element.name}) but no label column: expected a ClassLabel feature or a column named ${LABEL_NAMES.slice(0, 4).join(', ')}…; its columns are ${describe}.`,
      file,
    );
  }
  const names = features[label.element.name]?.names;
  return { image: image.element.name, label: label.element.name, classNames: Array.isArray(names) && names.length > 0 ? names.map(String) : undefined };
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return bytes.slice().buffer;
}

export interface ParquetRows {
  columns: ParquetColumns;
  rows: Array<{ image: unknown; label: unknown }>;
}

/** Reads the image and label columns of every row. */
export async function readParquetRows(bytes: Uint8Array, file: string): Promise<ParquetRows> {
  const columns = findParquetColumns(bytes, file);
  const buffer = toArrayBuffer(bytes);
  checkParquetPages(buffer, file);
  // One column per call: when hyparquet reads two columns and the first fails, the other's
  // rejected promise is never awaited, and an unhandled rejection ends a Node process.
  const read = async (column: string) => {
    try {
      return await parquetReadObjects({ file: buffer, columns: [column], utf8: false, rowFormat: 'object' });
    } catch (e) {
      throw new IoError('format', `${file}: its rows could not be read (${(e as Error).message}). Download it again.`, file, { cause: e });
    }
  };
  const images = await read(columns.image);
  const labels = await read(columns.label);
  if (images.length !== labels.length) throw new IoError('format', `${file}: its image and label columns hold ${images.length} and ${labels.length} rows. Download it again.`, file);
  return { columns, rows: images.map((r, i) => ({ image: r[columns.image], label: labels[i][columns.label] })) };
}

const SPLIT_OF = (name: string): 'train' | 'test' | 'validation' | undefined => {
  const parts = name.toLowerCase().split(/[/\\]/);
  const base = parts[parts.length - 1];
  for (const p of [...parts.slice(0, -1).reverse(), base]) {
    if (/^(train|training)(\b|[-_.])/.test(p) || p === 'train') return 'train';
    if (/^(test|testing)(\b|[-_.])/.test(p) || p === 'test') return 'test';
    if (/^(validation|valid|val|dev)(\b|[-_.])/.test(p)) return 'validation';
  }
  return undefined;
};

/** Parquet files among a listing, grouped by the split their path names (train-00000-of-00002.parquet, data/test-…). */
export function findParquetFiles(names: readonly string[]): { train: string[]; test: string[]; validation: string[]; other: string[] } | null {
  const files = names.filter((n) => /\.parquet$/i.test(n)).sort();
  if (files.length === 0) return null;
  const out = { train: [] as string[], test: [] as string[], validation: [] as string[], other: [] as string[] };
  for (const f of files) out[SPLIT_OF(f) ?? 'other'].push(f);
  return out;
}

export interface LoadParquetOptions {
  decode: ImageDecoder;
  split?: 'train' | 'test';
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number; file: string }) => void;
}

/**
 * Loads the parquet files of one split (train by default; files whose names say no split count
 * as the training set) into one data set with one set of class names.
 */
export async function loadParquetDataset(source: FileSource, names: readonly string[], options: LoadParquetOptions): Promise<ImageDataset> {
  const groups = findParquetFiles(names);
  if (!groups) throw new IoError('not-found', `${source.description} holds no .parquet files.`);
  const want = options.split ?? 'train';
  const candidates =
    want === 'train'
      ? [[...groups.train, ...groups.other], groups.validation, groups.test]
      : [groups.test, groups.validation, [...groups.train, ...groups.other]];
  const files = candidates.find((c) => c.length > 0)!;
  const skipped: SkippedFile[] = [];
  const images: DatasetImage[] = [];
  const rawLabels: unknown[] = [];
  let classNames: string[] | undefined;
  let total = 0;
  let done = 0;
  const parsed: Array<{ file: string; data: ParquetRows }> = [];
  for (const file of files) {
    throwIfAborted(options.signal, file, source.description);
    try {
      const data = await readParquetRows(await source.readBytes(file, { signal: options.signal }), file);
      parsed.push({ file, data });
      total += data.rows.length;
      classNames ??= data.columns.classNames;
    } catch (e) {
      if (e instanceof IoError && (e.code === 'aborted' || e.code === 'network')) throw e;
      if ((e as Error).name === 'AbortError') throw e;
      skipped.push({ file, reason: (e as Error).message });
    }
  }
  for (const { file, data } of parsed) {
    for (let r = 0; r < data.rows.length; r++) {
      const row = data.rows[r];
      const where = `${file} row ${r}`;
      throwIfAborted(options.signal, where, source.description);
      try {
        const cell = row.image as { bytes?: unknown; path?: unknown } | null;
        const bytes = cell?.bytes;
        if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
          throw new Error(
            typeof cell?.path === 'string' && cell.path
              ? `the image is stored only as a path (${cell.path}), not as bytes inside the file`
              : 'the image cell is empty',
          );
        }
        if (row.label === null || row.label === undefined) throw new Error('the label is missing');
        const img = await options.decode(bytes, typeof cell?.path === 'string' && cell.path ? cell.path : where);
        if (img.width === 0 || img.height === 0) throw new Error('the image is empty (0 pixels)');
        images.push(img);
        rawLabels.push(row.label);
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        skipped.push({ file: where, reason: (e as Error).message || String(e) });
      }
      options.onProgress?.({ done: ++done, total, file: where });
    }
  }
  if (images.length === 0) {
    const why = skipped.slice(0, 3).map((s) => `${s.file}: ${s.reason}`).join('; ');
    throw new IoError('format', `${source.description} holds no readable labelled images in its parquet files (${why || `${files.join(', ')}: no row has both an image and a label`}).`, files[0]);
  }
  // Labels: integers (named by ClassLabel when given) or strings (classes sorted by name).
  const MAX_UNNAMED_CLASSES = 100_000;
  let labels: Int32Array;
  if (rawLabels.every((l) => typeof l === 'string')) {
    const names = [...new Set(rawLabels as string[])].sort();
    const index = new Map(names.map((n, i) => [n, i]));
    labels = Int32Array.from(rawLabels as string[], (l) => index.get(l)!);
    classNames = names;
  } else {
    const ints = rawLabels.map((l) => Number(l));
    const bad = ints.findIndex((l) => !Number.isInteger(l) || l < 0);
    if (bad >= 0) {
      throw new IoError('format', `${files[0]}: label ${String(rawLabels[bad])} is not a class index (a whole number from 0). Use an image classification data set.`, files[0]);
    }
    // A loop, not Math.max(...ints): spreading 160k values overflows the call stack.
    let max = 0;
    for (const l of ints) max = Math.max(max, l);
    if (classNames && max >= classNames.length) {
      throw new IoError(
        'format',
        `${files[0]}: label ${max} is past the ${classNames.length} class names of its ClassLabel feature (${classNames.slice(0, 5).join(', ')}${classNames.length > 5 ? ', …' : ''}). The file is damaged or its labels belong to another data set.`,
        files[0],
      );
    }
    if (!classNames && max >= MAX_UNNAMED_CLASSES) {
      throw new IoError(
        'format',
        `${files[0]}: label ${max} would make ${max + 1} classes; Rankscope reads up to ${MAX_UNNAMED_CLASSES} unnamed classes. Check the label column, or give the labels as a ClassLabel feature.`,
        files[0],
      );
    }
    if (!classNames) {
      classNames = Array.from({ length: max + 1 }, (_, i) => `class ${i}`);
    }
    labels = Int32Array.from(ints);
  }
  return { images, labels, classNames, source: `${source.description} (parquet: ${files.join(', ')})`, skipped };
}
