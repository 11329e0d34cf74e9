/**
 * Finished runs kept in IndexedDB (through `idb`), so a reload or a closed tab never loses a
 * person's results: metrics, spectra, the comparison numbers and the confusion matrix. Only runs
 * that have ended are stored; a run in flight lives in the worker and ends with the page.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { RunView } from './runStore';

interface ArchiveSchema extends DBSchema {
  runs: { key: string; value: { id: string; savedAt: number; view: RunView } };
}

export const RUN_ARCHIVE_DB = 'rankscope-runs';

export class RunArchive {
  private db: Promise<IDBPDatabase<ArchiveSchema>> | undefined;

  constructor(readonly dbName: string = RUN_ARCHIVE_DB) {}

  private open(): Promise<IDBPDatabase<ArchiveSchema>> {
    if (typeof indexedDB === 'undefined') {
      return Promise.reject(
        new Error('IndexedDB is not available in this browser window (private browsing can turn it off), so finished runs cannot be kept across reloads. Use a normal window to keep them.'),
      );
    }
    this.db ??= openDB<ArchiveSchema>(this.dbName, 1, {
      upgrade(db) {
        db.createObjectStore('runs', { keyPath: 'id' });
      },
    });
    return this.db;
  }

  async save(view: RunView): Promise<void> {
    const { restored: _restored, ...plain } = view;
    await (await this.open()).put('runs', { id: view.spec.id, savedAt: Date.now(), view: plain });
  }

  /** Every saved run, oldest first. */
  async load(): Promise<RunView[]> {
    const all = await (await this.open()).getAll('runs');
    return all.map((r) => r.view).sort((a, b) => a.createdAt - b.createdAt);
  }

  async delete(id: string): Promise<void> {
    await (await this.open()).delete('runs', id);
  }

  close(): void {
    void this.db?.then((db) => db.close());
    this.db = undefined;
  }
}

/** The page's archive. */
export const runArchive = new RunArchive();
