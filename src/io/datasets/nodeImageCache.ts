/**
 * The working-size image cache under Node: a folder (default ~/.cache/rankscope/images, or
 * $XDG_CACHE_HOME/rankscope/images) of one file per photo. With `onDisk`, loaded images are views
 * that read their file on each access, so the CLI holds a data set of any size in a few bytes per
 * image and reads the few hundred kilobytes a batch needs from disk (the OS keeps hot files in
 * its page cache, outside the process's memory).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { NodeFsBlobCache } from '../cache/nodeBlobCache';
import { blobImageCache, imageCacheTag, readCachedHeader, type WorkingImageCache } from './imageCache';
import type { DatasetImage } from './types';

export function defaultImageCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'rankscope', 'images');
}

/** Reads a whole file synchronously (batches are made synchronously). */
function readWhole(path: string, size: number, allowShort = false): Uint8Array {
  const out = new Uint8Array(size);
  const fd = openSync(path, 'r');
  try {
    let at = 0;
    while (at < size) {
      const n = readSync(fd, out, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    if (at !== size && allowShort) return out.subarray(0, at);
    if (at !== size) throw new Error(`${path} is shorter than its header says: the image cache was changed while in use. Load the data set again.`);
  } finally {
    closeSync(fd);
  }
  return out;
}

function diskImage(path: string, fingerprint: string, dims: Pick<DatasetImage, 'width' | 'height' | 'channels'>): DatasetImage {
  const { width, height, channels } = dims;
  let offset = -1;
  return {
    width,
    height,
    channels,
    onDisk: true,
    get data(): Uint8Array {
      if (offset < 0) {
        // UTF-8 takes at most 4 bytes per UTF-16 unit; a short file is fine here.
        const head = readWhole(path, 20 + 4 * fingerprint.length, true);
        const h = readCachedHeader(head, fingerprint);
        if (!h) throw new Error(`${path} no longer holds the cached image of ${fingerprint}: load the data set again.`);
        offset = h.offset;
      }
      const all = readWhole(path, offset + width * height * channels);
      return all.subarray(offset);
    },
  };
}

export interface NodeImageCacheOptions {
  dir?: string;
  /** Hold loaded images on disk (read per batch) instead of in memory. */
  onDisk?: boolean;
}

export function nodeImageCache(edge: number, resample: number, options: NodeImageCacheOptions = {}): WorkingImageCache & { dir: string } {
  const dir = options.dir ?? defaultImageCacheDir();
  const blobs = new NodeFsBlobCache(dir);
  const cache = blobImageCache(blobs, imageCacheTag(edge, resample), {
    view: options.onDisk ? (key, fp, img) => diskImage(join(dir, ...key.split('/')), fp, img) : undefined,
  });
  return { ...cache, dir };
}
