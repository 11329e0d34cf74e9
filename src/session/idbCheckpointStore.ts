/**
 * Run checkpoints in the browser: IndexedDB through `idb`, reachable from the lab worker where
 * training runs. Small metadata (run, step, time, size) sits apart from the bytes, so listing what
 * can be resumed never reads a checkpoint that may be as large as the model three times over.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { RunCheckpointStore, StoredCheckpoint } from './checkpointStore';

interface CheckpointSchema extends DBSchema {
  meta: { key: string; value: { runId: string; step: number; savedAt: number; size: number } };
  bytes: { key: string; value: Uint8Array };
}

export const CHECKPOINT_DB = 'rankscope-checkpoints';

export class IndexedDbCheckpointStore implements RunCheckpointStore {
  readonly description: string;
  private db: Promise<IDBPDatabase<CheckpointSchema>> | undefined;

  constructor(readonly dbName: string = CHECKPOINT_DB) {
    this.description = `IndexedDB database "${dbName}"`;
  }

  private open(): Promise<IDBPDatabase<CheckpointSchema>> {
    if (typeof indexedDB === 'undefined') {
      return Promise.reject(new Error('IndexedDB is not available here'));
    }
    this.db ??= openDB<CheckpointSchema>(this.dbName, 1, {
      upgrade(db) {
        db.createObjectStore('meta', { keyPath: 'runId' });
        db.createObjectStore('bytes');
      },
    });
    // A failed open is not kept: the next save tries again.
    this.db.catch(() => (this.db = undefined));
    return this.db;
  }

  async save(runId: string, step: number, bytes: Uint8Array): Promise<void> {
    const db = await this.open();
    // One transaction: either both the bytes and their metadata replace the old ones, or neither does.
    const tx = db.transaction(['meta', 'bytes'], 'readwrite');
    await Promise.all([
      tx.objectStore('bytes').put(bytes, runId),
      tx.objectStore('meta').put({ runId, step, savedAt: Date.now(), size: bytes.length }),
      tx.done,
    ]);
  }

  async load(runId: string): Promise<StoredCheckpoint | undefined> {
    const db = await this.open();
    const tx = db.transaction(['meta', 'bytes']);
    const [meta, bytes] = await Promise.all([tx.objectStore('meta').get(runId), tx.objectStore('bytes').get(runId), tx.done]);
    return meta && bytes ? { runId, step: meta.step, savedAt: meta.savedAt, bytes } : undefined;
  }

  async delete(runId: string): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(['meta', 'bytes'], 'readwrite');
    await Promise.all([tx.objectStore('meta').delete(runId), tx.objectStore('bytes').delete(runId), tx.done]);
  }
}
