/**
 * A persistent store of downloaded files, keyed by '/'-separated strings such as
 * 'google/vit-base-patch16-224/main/model.safetensors'. Under Node it is a directory, in the
 * browser IndexedDB; the Hub source only sees this interface. A person can list what it holds
 * and how big it is, and clear all of it or one model (a key prefix).
 */
export interface CacheEntry {
  key: string;
  size: number;
  /** Milliseconds since the epoch. */
  storedAt: number;
}

export interface BlobCache {
  /** Where the cache lives, for messages and the settings page. */
  readonly description: string;
  get(key: string): Promise<Uint8Array | undefined>;
  has(key: string): Promise<boolean>;
  /** Stores atomically: a cancelled or failed put never leaves a partial entry behind. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Entries whose key starts with `prefix` (all when omitted), sorted by key. */
  list(prefix?: string): Promise<CacheEntry[]>;
  delete(key: string): Promise<boolean>;
  /** Removes entries under `prefix` (everything when omitted); returns how many went. */
  clear(prefix?: string): Promise<number>;
}

export function cacheKeyParts(key: string): string[] {
  const parts = key.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\'))) {
    throw new Error(`Cache key "${key}" is not a plain '/'-separated relative name.`);
  }
  return parts;
}

/** An in-memory cache, for tests and for callers that want no persistence. */
export class MemoryBlobCache implements BlobCache {
  readonly description = 'memory';
  private readonly entries = new Map<string, { bytes: Uint8Array; storedAt: number }>();
  async get(key: string) {
    return this.entries.get(key)?.bytes.slice();
  }
  async has(key: string) {
    return this.entries.has(key);
  }
  async put(key: string, bytes: Uint8Array) {
    cacheKeyParts(key);
    this.entries.set(key, { bytes: bytes.slice(), storedAt: Date.now() });
  }
  async list(prefix = '') {
    return [...this.entries]
      .filter(([k]) => k.startsWith(prefix))
      .map(([key, e]) => ({ key, size: e.bytes.length, storedAt: e.storedAt }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }
  async delete(key: string) {
    return this.entries.delete(key);
  }
  async clear(prefix = '') {
    let n = 0;
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix) && this.entries.delete(k)) n++;
    return n;
  }
}
