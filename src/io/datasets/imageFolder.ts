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
}

/** Files that operating systems and archivers leave behind; never reported as problems. */
function isJunk(path: string): boolean {
  return path.split('/').some((p) => p.startsWith('.') || p === '__MACOSX' || p === 'Thumbs.db' || p === 'desktop.ini');
}

const SPLIT_NAMES = new Set(['train', 'training', 'val', 'valid', 'validation', 'test', 'testing']);

export async function readImageFolder(source: FileSource, options: ImageFolderOptions): Promise<ImageDataset> {
  const { decode, signal, onProgress } = options;
  const names = await source.list({ signal });
  if (!names) {
    throw new IoError('unsupported', `${source.description} cannot list its files, so it cannot be read as a folder of class folders.`);
  }
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
      skipped.push({ file: name, reason: 'not an image file (expected .png or .jpg)' });
      continue;
    }
    const cls = name.slice(0, slash);
    let list = byClass.get(cls);
    if (!list) byClass.set(cls, (list = []));
    list.push(name);
  }
  const folders = [...byClass.keys()];
  if (folders.length > 0 && folders.every((f) => SPLIT_NAMES.has(f.toLowerCase())) && [...byClass.values()].flat().every((n) => n.split('/').length >= 3)) {
    throw new IoError(
      'format',
      `${source.description} holds split folders (${folders.sort().join(', ')}), not class folders. Point Rankscope at one split, for example its ${folders.includes('train') ? 'train' : folders[0]} folder, whose subfolders are the classes.`,
    );
  }

  const classFolders = folders.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const total = classFolders.reduce((s, c) => s + byClass.get(c)!.length, 0);
  const images: DatasetImage[] = [];
  const labels: number[] = [];
  const classNames: string[] = [];
  let done = 0;
  for (const cls of classFolders) {
    const label = classNames.length;
    let kept = 0;
    for (const file of byClass.get(cls)!.sort()) {
      throwIfAborted(signal, file, source.description);
      try {
        const bytes = await source.readBytes(file, { signal });
        const img = await decode(bytes, file);
        if (img.width === 0 || img.height === 0) throw new Error('the image is empty (0 pixels)');
        images.push(img);
        labels.push(label);
        kept++;
      } catch (e) {
        // A cancel, or a source that stopped working, is not a problem with one file.
        if (e instanceof IoError && (e.code === 'aborted' || e.code === 'network')) throw e;
        skipped.push({ file, reason: (e as Error).message || String(e) });
      }
      onProgress?.({ done: ++done, total, file });
    }
    if (kept > 0) classNames.push(cls);
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
