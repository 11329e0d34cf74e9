/// <reference lib="webworker" />
/**
 * Working-size images held on disk in the page: one file in the origin private file system (OPFS)
 * per loaded data set, written and read through a FileSystemSyncAccessHandle, which only a
 * dedicated worker may open (the lab worker). Each image becomes an `onDisk` view that reads its
 * bytes at its offset when a batch is made, so the worker's memory does not grow with the set:
 * 10,000 photos at working size (about 2 GB) stay on disk, not in the tab.
 *
 * Where OPFS or sync access handles are missing (another browser, a page instead of a worker),
 * `open` resolves to undefined and images stay in memory.
 */
import type { DatasetImage } from './types';

const FOLDER = 'rankscope-held-images';

interface SyncHandle {
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

export class OpfsImageStore {
  private size = 0;
  private closed = false;

  private constructor(
    private readonly handle: SyncHandle,
    readonly name: string,
  ) {}

  /** Opens a fresh store; files of earlier sessions' stores are removed first (they are never reused). */
  static async open(name: string, clearOld = false): Promise<OpfsImageStore | undefined> {
    try {
      const storage = (globalThis.navigator as Navigator | undefined)?.storage;
      if (!storage?.getDirectory) return undefined;
      const root = await storage.getDirectory();
      if (clearOld) await root.removeEntry(FOLDER, { recursive: true }).catch(() => {});
      const dir = await root.getDirectoryHandle(FOLDER, { create: true });
      const file = await dir.getFileHandle(name, { create: true });
      const create = (file as unknown as { createSyncAccessHandle?: () => Promise<SyncHandle> }).createSyncAccessHandle;
      if (!create) return undefined;
      const handle = await create.call(file);
      handle.truncate(0);
      return new OpfsImageStore(handle, name);
    } catch {
      return undefined;
    }
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.size;
  }

  /** Writes the image's pixels to the file and returns a view that reads them back per use. */
  add(img: DatasetImage): DatasetImage {
    if (img.onDisk || !(img.data instanceof Uint8Array) || img.channels === 4) return img;
    const at = this.size;
    const length = img.data.length;
    this.handle.write(img.data, { at });
    this.size += length;
    const { width, height, channels } = img;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const store = this;
    return {
      width,
      height,
      channels,
      onDisk: true,
      get data(): Uint8Array {
        if (store.closed) throw new Error(`The data set's held images (${store.name}) were released: load the data set again.`);
        const out = new Uint8Array(length);
        store.handle.read(out, { at });
        return out;
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }
}
