/**
 * GEMM tuning results in the browser: one IndexedDB record per GPU adapter, through `idb`, written
 * by the lab worker that tunes. The Node counterpart is a JSON file (engine/tuning/fileTuningStore).
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { TUNING_VERSION, type TuningRecord, type TuningStore } from '../engine/tuning/store';

interface TuningSchema {
  adapters: { key: string; value: TuningRecord };
}

export const TUNING_DB = 'rankscope-tuning';

export class IndexedDbTuningStore implements TuningStore {
  readonly description: string;
  private db: Promise<IDBPDatabase<TuningSchema & DBSchema>> | undefined;

  constructor(readonly dbName: string = TUNING_DB) {
    this.description = `IndexedDB database "${dbName}"`;
  }

  private open(): Promise<IDBPDatabase<TuningSchema & DBSchema>> {
    if (typeof indexedDB === 'undefined') return Promise.reject(new Error('IndexedDB is not available here'));
    this.db ??= openDB<TuningSchema & DBSchema>(this.dbName, 1, {
      upgrade(db) {
        db.createObjectStore('adapters', { keyPath: 'adapter' });
      },
    });
    // A failed open is not kept: the next call tries again.
    this.db.catch(() => (this.db = undefined));
    return this.db;
  }

  async load(adapter: string): Promise<TuningRecord | undefined> {
    const rec = await (await this.open()).get('adapters', adapter);
    // Another kernel version's timings say nothing about these kernels.
    return rec && rec.version === TUNING_VERSION ? rec : undefined;
  }

  async save(record: TuningRecord): Promise<void> {
    await (await this.open()).put('adapters', record);
  }
}
