/**
 * A data set laid out as one folder per class (root/cat/001.png, root/dog/a/b.jpg), the layout
 * of torchvision's ImageFolder: classes are the folder names, sorted. Works on any FileSource
 * that can list (a folder under Node, a dropped folder in the page) with a decoder passed in,
 * so Node (pngjs/jpeg-js) and the page (createImageBitmap) share this code.
 *
 * One unreadable file must not cost a person their whole data set: it goes into `skipped` with
 * the reason, and loading goes on.
 */
import { IoError, throwIfAborted } from '../errors';
import type { FileSource } from '../source';
import { IMAGE_EXTENSIONS } from './imageFormat';
import type { WorkingImageCache } from './imageCache';
import type { DatasetImage, ImageDataset, SkippedFile } from './types';

export type ImageDecoder = (bytes: Uint8Array, file: string) => DatasetImage | Promise<DatasetImage>;

export interface ImageFolderProgress {
  done: number;
  total: number;
  file: string;
}

export interface ImageFolderOptions {
  decode: ImageDecoder;
  signal?: AbortSignal;
  onProgress?: (p: ImageFolderProgress) => void;
  /** Decodes in flight at once (default DECODE_CONCURRENCY). */
  concurrency?: number;
  /**
   * Working-size images from earlier loads, by file fingerprint: a hit skips reading and decoding
   * the file. Must be made for the same working size as `decode` (see imageCacheTag).
   */
  cache?: WorkingImageCache;
  /** Where each decoded (or cached) image is kept: e.g. moved to disk (opfsImageStore.ts). Default: as is. */
  hold?: (img: DatasetImage) => DatasetImage;
}

/** Files that operating systems and archivers leave behind; never reported as problems. */
function isJunk(path: string): boolean {
  return path.split('/').some((p) => p.startsWith('.') || p === '__MACOSX' || p === 'Thumbs.db' || p === 'desktop.ini');
}

const TRAIN_SPLITS = ['train', 'training'];
/** Validation splits in order of preference: a `val` split is meant for it; `test` only if nothing else. */
const VAL_SPLITS = ['val', 'validation', 'valid', 'test', 'testing'];
const SPLIT_NAMES = new Set([...TRAIN_SPLITS, ...VAL_SPLITS]);

/**
 * The split folders of a listing laid out as train/<class>/… and val|valid|validation|test/<class>/…
 * (torchvision ImageFolder users, Hugging Face's imagefolder), or null when it is not one.
 */
export function findFolderSplits(names: readonly string[]): { train: string; val?: string; others: string[] } | null {
  const tops = new Map<string, string>();
  for (const n of names) {
    if (isJunk(n) || !IMAGE_EXTENSIONS.test(n)) continue;
    const parts = n.split('/');
    if (parts.length < 3) return null;
    tops.set(parts[0].toLowerCase(), parts[0]);
  }
  if (tops.size === 0 || ![...tops.keys()].every((t) => SPLIT_NAMES.has(t))) return null;
  const train = TRAIN_SPLITS.find((t) => tops.has(t));
  if (!train) return null;
  const val = VAL_SPLITS.find((t) => tops.has(t));
  const others = [...tops.keys()].filter((t) => t !== train && t !== val).map((t) => tops.get(t)!);
  return { train: tops.get(train)!, val: val ? tops.get(val) : undefined, others };
}

/** The files of one split folder, seen as a class-folder set of its own. */
function splitView(source: FileSource, names: readonly string[], split: string): { source: FileSource; names: string[] } {
  const prefix = `${split}/`;
  const inner = names.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
  return {
    names: inner,
    source: {
      description: `${source.description} (${split} split)`,
      readBytes: (f, o) => source.readBytes(prefix + f, o),
      readText: (f, o) => source.readText(prefix + f, o),
      exists: (f, o) => source.exists(prefix + f, o),
      list: async () => inner,
      fingerprint: source.fingerprint && ((f) => source.fingerprint!(prefix + f)),
    },
  };
}

export async function readImageFolder(source: FileSource, options: ImageFolderOptions): Promise<ImageDataset> {
  const names = await source.list({ signal: options.signal });
  if (!names) {
    throw new IoError('unsupported', `${source.description} cannot list its files, so it cannot be read as a folder of class folders.`);
  }
  const splits = findFolderSplits(names);
  if (!splits) return readClassFolders(source, names, options);
  // Both splits share one progress count, so the bar runs once from 0 to every image.
  const train = splitView(source, names, splits.train);
  const val = splits.val ? splitView(source, names, splits.val) : undefined;
  let offset = 0;
  // Until the validation split's own count is known (files of unknown classes drop out), the total is its listing's.
  let rest = val?.names.length ?? 0;
  const progress = options.onProgress && ((p: ImageFolderProgress) => options.onProgress!({ done: offset + p.done, total: offset ? offset + p.total : p.total + rest, file: p.file }));
  const ds = await readClassFolders(train.source, train.names, { ...options, onProgress: progress });
  const skipped: SkippedFile[] = [
    ...ds.skipped.map((s) => ({ ...s, file: `${splits.train}/${s.file}` })),
    ...splits.others.map((o) => ({
      file: `${o}/`,
      reason: splits.val
        ? `not read: ${splits.val} is the validation split (val, then validation, valid and test are preferred in that order)`
        : `not read: ${splits.train} is the training split`,
    })),
  ];
  if (!val) return { ...ds, skipped };
  offset = ds.images.length + ds.skipped.filter((x) => !x.file.endsWith('/')).length;
  rest = 0;
  const v = await readClassFolders(val.source, val.names, { ...options, onProgress: progress }, ds.classNames);
  skipped.push(...v.skipped.map((s) => ({ ...s, file: `${splits.val}/${s.file}` })));
  return { ...ds, skipped, validation: { set: { ...v, skipped: [] }, split: splits.val! } };
}

/**
 * Decodes at most this many images at once: enough to keep a pool of decoders (or libvips'
 * threads) busy, few enough that the compressed files and full-size decodes in flight stay small.
 */
export const DECODE_CONCURRENCY = 4;

async function readClassFolders(source: FileSource, names: readonly string[], options: ImageFolderOptions, knownClasses?: string[]): Promise<ImageDataset> {
  const { decode, signal, onProgress } = options;
  const skipped: SkippedFile[] = [];
  const byClass = new Map<string, string[]>();
  for (const name of names) {
    if (isJunk(name)) continue;
    const slash = name.indexOf('/');
    if (slash < 0) {
      skipped.push({ file: name, reason: 'not inside a class folder (each class needs its own folder of images)' });
      continue;
    }
    if (!IMAGE_EXTENSIONS.test(name)) {
      skipped.push({ file: name, reason: 'not an image file (expected .png, .jpg, .webp or another image type)' });
      continue;
    }
    const cls = name.slice(0, slash);
    if (knownClasses && !knownClasses.includes(cls)) {
      skipped.push({ file: name, reason: `class ${cls} is not among the training split's classes` });
      continue;
    }
    let list = byClass.get(cls);
    if (!list) byClass.set(cls, (list = []));
    list.push(name);
  }
  const folders = [...byClass.keys()];
  if (folders.length > 0 && folders.every((f) => SPLIT_NAMES.has(f.toLowerCase())) && [...byClass.values()].flat().every((n) => n.split('/').length >= 3)) {
    throw new IoError(
      'format',
      `${source.description} holds split folders (${folders.sort().join(', ')}) but none is a training split. Name the training folder train/ (and the validation folder val/), or point Rankscope at one split, whose subfolders are the classes.`,
    );
  }

  // Validation keeps the training split's class order, so label i means the same class in both.
  const classFolders = knownClasses ?? folders.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files: Array<{ file: string; cls: string }> = [];
  for (const cls of classFolders) for (const file of (byClass.get(cls) ?? []).sort()) files.push({ file, cls });
  const total = files.length;
  const decoded: Array<DatasetImage | undefined> = new Array(total);
  const failed: Array<string | undefined> = new Array(total);
  let done = 0;
  let next = 0;
  // A few decodes in flight at once; results land by index, so the order never depends on timing.
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const { file } = files[i];
      throwIfAborted(signal, file, source.description);
      try {
        const fingerprint = options.cache && source.fingerprint ? await source.fingerprint(file) : null;
        let img = fingerprint ? await options.cache!.get(fingerprint) : undefined;
        if (!img) {
          const bytes = await source.readBytes(file, { signal });
          img = await decode(bytes, file);
          if (img.width === 0 || img.height === 0) throw new Error('the image is empty (0 pixels)');
          if (fingerprint) img = await options.cache!.put(fingerprint, img);
        }
        decoded[i] = options.hold ? options.hold(img) : img;
      } catch (e) {
        // A cancel, or a source that stopped working, is not a problem with one file.
        if (e instanceof IoError && (e.code === 'aborted' || e.code === 'network')) throw e;
        if ((e as Error)?.name === 'AbortError') throw e;
        failed[i] = (e as Error).message || String(e);
      }
      onProgress?.({ done: ++done, total, file });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? DECODE_CONCURRENCY, Math.max(1, total)) }, worker));
  const images: DatasetImage[] = [];
  const labels: number[] = [];
  const classNames: string[] = [];
  failed.forEach((reason, i) => reason !== undefined && skipped.push({ file: files[i].file, reason }));
  for (const cls of classFolders) {
    const label = classNames.length;
    let kept = 0;
    files.forEach((f, i) => {
      if (f.cls !== cls || !decoded[i]) return;
      images.push(decoded[i]!);
      labels.push(label);
      kept++;
    });
    // A validation split keeps every training class, even one it has no images of.
    if (kept > 0 || knownClasses) classNames.push(cls);
    else skipped.push({ file: `${cls}/`, reason: 'no readable images, so this class was left out' });
  }
  if (images.length === 0) {
    const why = skipped.filter((s) => !s.file.endsWith('/')).slice(0, 3).map((s) => `${s.file}: ${s.reason}`).join('; ');
    throw new IoError(
      'format',
      `${source.description} holds no readable images in class folders${why ? ` (${why})` : ''}. Lay it out as one folder per class, each holding PNG or JPEG images.`,
    );
  }
  return { images, labels: Int32Array.from(labels), classNames, source: source.description, skipped };
}
