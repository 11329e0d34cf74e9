/**
 * The download cache in the browser: IndexedDB (through `idb`), which keeps large binary values
 * across reloads and is reachable from a Web Worker, where training runs. Sizes live in a
 * separate store so listing the cache never loads the files themselves.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { cacheKeyParts, type BlobCache, type CacheEntry } from './blobCache';

interface CacheSchema extends DBSchema {
  entries: { key: string; value: CacheEntry };
  blobs: { key: string; value: Uint8Array };
}

export const DEFAULT_IDB_CACHE_NAME = 'rankscope-hub-cache';

export class IndexedDbBlobCache implements BlobCache {
  readonly description: string;
  private db: Promise<IDBPDatabase<CacheSchema>> | undefined;

  constructor(readonly dbName: string = DEFAULT_IDB_CACHE_NAME) {
    this.description = `IndexedDB database "${dbName}"`;
  }

  private open(): Promise<IDBPDatabase<CacheSchema>> {
    if (typeof indexedDB === 'undefined') {
      return Promise.reject(new Error('IndexedDB is not available here (private browsing can disable it), so downloads cannot be cached; models will be fetched every time.'));
    }
    this.db ??= openDB<CacheSchema>(this.dbName, 1, {
      upgrade(db) {
        db.createObjectStore('entries', { keyPath: 'key' });
        db.createObjectStore('blobs');
      },
    });
    return this.db;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return (await this.open()).get('blobs', key);
  }

  async has(key: string): Promise<boolean> {
    return (await (await this.open()).getKey('entries', key)) !== undefined;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    cacheKeyParts(key);
    const db = await this.open();
    // One transaction over both stores: an entry is listed only if its bytes were stored too.
    const tx = db.transaction(['entries', 'blobs'], 'readwrite');
    await Promise.all([
      tx.objectStore('blobs').put(bytes, key),
      tx.objectStore('entries').put({ key, size: bytes.length, storedAt: Date.now() }),
      tx.done,
    ]);
  }

  async list(prefix = ''): Promise<CacheEntry[]> {
    const all = await (await this.open()).getAll('entries');
    return all.filter((e) => e.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<boolean> {
    const db = await this.open();
    const tx = db.transaction(['entries', 'blobs'], 'readwrite');
    const existed = (await tx.objectStore('entries').getKey(key)) !== undefined;
    await Promise.all([tx.objectStore('entries').delete(key), tx.objectStore('blobs').delete(key), tx.done]);
    return existed;
  }

  async clear(prefix = ''): Promise<number> {
    const keys = (await this.list(prefix)).map((e) => e.key);
    const db = await this.open();
    const tx = db.transaction(['entries', 'blobs'], 'readwrite');
    await Promise.all([
      ...keys.flatMap((k) => [tx.objectStore('entries').delete(k), tx.objectStore('blobs').delete(k)]),
      tx.done,
    ]);
    return keys.length;
  }

  close(): void {
    void this.db?.then((d) => d.close());
    this.db = undefined;
  }
}
