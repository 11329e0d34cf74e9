/**
 * Finished ensembles and compositions kept in IndexedDB (database `rankscope-combined`), as
 * finished runs are in `rankscope-runs`: a reload brings back their tables, heatmap, temperatures
 * and downloads.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { CombineView } from './combineStore';

interface CombineSchema extends DBSchema {
  combined: { key: string; value: { id: string; savedAt: number; view: CombineView } };
}

export const COMBINE_ARCHIVE_DB = 'rankscope-combined';

export class CombineArchive {
  private db: Promise<IDBPDatabase<CombineSchema>> | undefined;

  constructor(readonly dbName: string = COMBINE_ARCHIVE_DB) {}

  private open(): Promise<IDBPDatabase<CombineSchema>> {
    if (typeof indexedDB === 'undefined') {
      return Promise.reject(new Error('IndexedDB is not available in this browser window (private browsing can turn it off), so ensembles and compositions cannot be kept across reloads.'));
    }
    this.db ??= openDB<CombineSchema>(this.dbName, 1, {
      upgrade(db) {
        db.createObjectStore('combined', { keyPath: 'id' });
      },
    });
    return this.db;
  }

  async save(view: CombineView): Promise<void> {
    const { restored: _restored, progress: _progress, ...plain } = view;
    await (await this.open()).put('combined', { id: view.id, savedAt: Date.now(), view: plain });
  }

  async load(): Promise<CombineView[]> {
    const all = await (await this.open()).getAll('combined');
    return all.map((r) => r.view).sort((a, b) => a.createdAt - b.createdAt);
  }

  async delete(id: string): Promise<void> {
    await (await this.open()).delete('combined', id);
  }
}

export const combineArchive = new CombineArchive();
