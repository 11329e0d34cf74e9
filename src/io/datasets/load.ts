/**
 * One entry point for "a data set": whatever a person drops or the CLI's --data names. The
 * layout is told from file names, and for a lone file of unknown name from its first bytes:
 *
 * - IDX files (MNIST, Fashion-MNIST), in a folder or dropped as loose files;
 * - CIFAR-10 / CIFAR-100 binary batches (data_batch_*.bin, test_batch.bin; train.bin, test.bin);
 * - parquet files of a Hugging Face image data set (an image struct column and a label column);
 * - a zip or (gzipped) tar archive of any of these, or of class folders, opened and read again;
 * - otherwise one subfolder of images per class.
 */
import { IoError, isAbortError } from '../errors';
import type { FileSource } from '../source';
import { findCifarFiles, loadCifar } from './cifar';
import { findIdxFiles, loadIdx, type IdxSplit } from './idx';
import { readImageFolder, type ImageDecoder, type ImageFolderProgress } from './imageFolder';
import { findParquetFiles, loadParquetDataset } from './parquet';
import { TarSource } from './tar';
import type { WorkingImageCache } from './imageCache';
import type { DatasetImage, ImageDataset, SkippedFile } from './types';
import { looksLikeZip, ZipSource } from './zip';

export interface LoadImageDatasetOptions {
  decode: ImageDecoder;
  /**
   * For sets that come split (IDX, CIFAR, parquet): which split; default 'train'. When only the
   * other split is there, that one is loaded. Class folders have no splits.
   */
  split?: IdxSplit;
  signal?: AbortSignal;
  onProgress?: (p: ImageFolderProgress) => void;
  /** Decoded working-size images of class folders by file fingerprint (see imageCache.ts). */
  cache?: WorkingImageCache;
  /** Decodes in flight at once for class folders. */
  concurrency?: number;
  /** Where class folders' decoded images are kept (see ImageFolderOptions.hold). */
  hold?: (img: DatasetImage) => DatasetImage;
}

export type DatasetLayout = 'idx' | 'cifar' | 'parquet' | 'zip' | 'tar' | 'class-folders';

const ZIP_NAME = /\.zip$/i;
const TAR_NAME = /\.(tar|tar\.gz|tgz)$/i;

/** The layout a listing holds (by names only). */
export function layoutOf(names: readonly string[]): DatasetLayout {
  const idx = findIdxFiles(names.filter((n) => !n.includes('/')));
  if (idx.train || idx.test) return 'idx';
  if (findCifarFiles(names)) return 'cifar';
  if (findParquetFiles(names)) return 'parquet';
  const archives = names.filter((n) => !n.includes('/'));
  if (archives.some((n) => ZIP_NAME.test(n))) return 'zip';
  if (archives.some((n) => TAR_NAME.test(n))) return 'tar';
  return 'class-folders';
}

export async function detectDatasetLayout(source: FileSource, signal?: AbortSignal): Promise<DatasetLayout> {
  return layoutOf((await source.list({ signal })) ?? []);
}

/** Which archive of several to open: the one whose name says the wanted split, else the first. */
function pickArchive(names: string[], split: IdxSplit): string {
  const bySplit = names.find((n) => (split === 'train' ? /train/i : /test|val/i).test(n.split('/').pop()!));
  return bySplit ?? names[0];
}

async function openArchive(source: FileSource, layout: 'zip' | 'tar', names: string[], options: LoadImageDatasetOptions): Promise<{ inner: FileSource; skipped: SkippedFile[] }> {
  const archives = names.filter((n) => !n.includes('/') && (layout === 'zip' ? ZIP_NAME : TAR_NAME).test(n));
  const chosen = pickArchive(archives, options.split ?? 'train');
  const skipped: SkippedFile[] = names
    .filter((n) => n !== chosen)
    .map((file) => ({ file, reason: `not read: ${chosen} was opened instead (drop one archive, or the unpacked files, at a time)` }));
  const bytes = await source.readBytes(chosen, {
    signal: options.signal,
    onProgress: (p) => options.onProgress?.({ done: 0, total: 1, file: p.file }),
  });
  return { inner: layout === 'zip' ? new ZipSource(bytes, chosen) : new TarSource(bytes, chosen), skipped };
}

/**
 * A lone file with a name that says nothing (a download saved as "data" or "file.bin") is
 * opened by its first bytes: zip, gzip/tar, or parquet ("PAR1").
 */
async function sniffLoneFile(source: FileSource, name: string, signal?: AbortSignal): Promise<FileSource | null> {
  let bytes: Uint8Array;
  try {
    bytes = await source.readBytes(name, { signal });
  } catch (e) {
    if (isAbortError(e)) throw e;
    return null;
  }
  if (looksLikeZip(bytes)) return new ZipSource(bytes, name);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return new TarSource(bytes, name);
    } catch {
      return null;
    }
  }
  if (bytes.length >= 8 && String.fromCharCode(...bytes.subarray(0, 4)) === 'PAR1') {
    return renamed(source, name, `${name}.parquet`);
  }
  return null;
}

/** The same source with one file shown under another name. */
function renamed(source: FileSource, from: string, to: string): FileSource {
  const map = (f: string) => (f === to ? from : f);
  return {
    description: source.description,
    readBytes: (f, o) => source.readBytes(map(f), o),
    readText: (f, o) => source.readText(map(f), o),
    exists: (f, o) => source.exists(map(f), o),
    list: async (o) => ((await source.list(o)) ?? []).map((n) => (n === from ? to : n)),
  };
}

export async function loadImageDataset(source: FileSource, options: LoadImageDatasetOptions, depth = 0): Promise<ImageDataset> {
  const names = (await source.list({ signal: options.signal })) ?? [];
  const layout = names.length > 0 ? layoutOf(names) : 'class-folders';
  const split = options.split ?? 'train';
  const progress = (p: { done: number; total: number; file: string }) => options.onProgress?.(p);
  switch (layout) {
    case 'idx': {
      const found = findIdxFiles(names.filter((n) => !n.includes('/')));
      return loadIdx(source, { split: found[split] ? split : split === 'train' ? 'test' : 'train', signal: options.signal });
    }
    case 'cifar':
      return loadCifar(source, findCifarFiles(names)!, { split, signal: options.signal, onProgress: progress });
    case 'parquet':
      return loadParquetDataset(source, names, { decode: options.decode, split, signal: options.signal, onProgress: progress });
    case 'zip':
    case 'tar': {
      if (depth > 1) throw new IoError('unsupported', `${source.description} nests archives inside archives; unpack the outer one and drop what is inside.`);
      const { inner, skipped } = await openArchive(source, layout, names, options);
      const ds = await loadImageDataset(inner, options, depth + 1);
      return { ...ds, skipped: [...skipped, ...ds.skipped] };
    }
    case 'class-folders': {
      const loose = names.filter((n) => !n.includes('/'));
      if (depth === 0 && names.length === 1 && loose.length === 1) {
        const inner = await sniffLoneFile(source, loose[0], options.signal);
        if (inner) return loadImageDataset(inner, options, depth + 1);
      }
      return readImageFolder(source, options);
    }
  }
}
