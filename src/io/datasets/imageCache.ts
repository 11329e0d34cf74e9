/**
 * Working-size images kept between sessions, keyed by the file's fingerprint (its name, size and
 * modification time, from FileSource.fingerprint) and by how it was brought to working size (the
 * edge and filter), so opening the same folder again, after a reload or in a new CLI run, reads a
 * few hundred kilobytes per photo instead of decoding megapixels. Stored in any BlobCache:
 * IndexedDB in the page, a folder under Node (~/.cache/rankscope/images).
 *
 * An entry is a 16-byte header (magic, width, height, channels) with the fingerprint after it,
 * then the pixels. The fingerprint is checked on read, so a hash collision is a miss, not a wrong
 * image.
 */
import type { BlobCache } from '../cache/blobCache';
import type { DatasetImage } from './types';
import { datasetImage } from './types';

const MAGIC = 0x49575352; // 'RSWI'
const HEADER = 16;

export interface WorkingImageCache {
  get(fingerprint: string): Promise<DatasetImage | undefined>;
  /** Stores the image; returns what to hold (the image itself, or a disk-backed view of it). */
  put(fingerprint: string, img: DatasetImage): Promise<DatasetImage>;
}

/** 64 bits of FNV-1a over the fingerprint, as hex: a short, safe cache key. */
function keyOf(fingerprint: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < fingerprint.length; i++) {
    const c = fingerprint.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function encodeCachedImage(fingerprint: string, img: DatasetImage): Uint8Array {
  if (!(img.data instanceof Uint8Array) || img.channels === 4) throw new Error('Only 8-bit grey or RGB images are cached.');
  const fp = utf8.encode(fingerprint);
  const out = new Uint8Array(HEADER + 4 + fp.length + img.data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, img.width, true);
  v.setUint32(8, img.height, true);
  v.setUint32(12, img.channels, true);
  v.setUint32(HEADER, fp.length, true);
  out.set(fp, HEADER + 4);
  out.set(img.data, HEADER + 4 + fp.length);
  return out;
}

/** The header of a cached entry, or undefined when it is not one for this fingerprint. */
export function readCachedHeader(bytes: Uint8Array, fingerprint: string): { width: number; height: number; channels: 1 | 3; offset: number } | undefined {
  if (bytes.length < HEADER + 4) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== MAGIC) return undefined;
  const width = v.getUint32(4, true);
  const height = v.getUint32(8, true);
  const channels = v.getUint32(12, true);
  const n = v.getUint32(HEADER, true);
  if (channels !== 1 && channels !== 3) return undefined;
  if (bytes.length < HEADER + 4 + n) return undefined;
  if (fromUtf8.decode(bytes.subarray(HEADER + 4, HEADER + 4 + n)) !== fingerprint) return undefined;
  return { width, height, channels, offset: HEADER + 4 + n };
}

export function decodeCachedImage(bytes: Uint8Array, fingerprint: string): DatasetImage | undefined {
  const h = readCachedHeader(bytes, fingerprint);
  if (!h || bytes.length !== h.offset + h.width * h.height * h.channels) return undefined;
  return datasetImage(bytes.subarray(h.offset), h.width, h.height, h.channels);
}

export interface BlobImageCacheOptions {
  /**
   * Under Node: a disk-backed view of a stored entry (reads its pixels on each access), so a set
   * larger than memory is held on disk and read per batch. Absent: images are held in memory.
   */
  view?: (key: string, fingerprint: string, img: Pick<DatasetImage, 'width' | 'height' | 'channels'>) => DatasetImage;
}

/**
 * A WorkingImageCache over a BlobCache, in a namespace `tag` that names how images were made
 * (e.g. 'e224-r2'): the same photo at another working size is another entry.
 */
export function blobImageCache(cache: BlobCache, tag: string, options: BlobImageCacheOptions = {}): WorkingImageCache {
  const key = (fp: string) => `images/${tag}/${keyOf(fp)}`;
  return {
    async get(fingerprint) {
      const k = key(fingerprint);
      const bytes = await cache.get(k).catch(() => undefined);
      if (!bytes) return undefined;
      const img = decodeCachedImage(bytes, fingerprint);
      if (!img || !options.view) return img;
      return options.view(k, fingerprint, img);
    },
    async put(fingerprint, img) {
      const k = key(fingerprint);
      try {
        await cache.put(k, encodeCachedImage(fingerprint, img));
      } catch {
        // A full disk or a private window's quota: keep going without the cache.
        return img;
      }
      return options.view ? options.view(k, fingerprint, img) : img;
    },
  };
}

/** The namespace for images made at shortest edge `edge` with Pillow filter `resample`. */
export function imageCacheTag(edge: number, resample: number): string {
  return `v1-e${edge}-r${resample}`;
}
