/**
 * A pool of decode workers for the page, sized to the machine's cores (navigator.hardwareConcurrency,
 * at most MAX_DECODERS): each photo's bytes are handed (transferred, not copied) to the least busy
 * decoder, which returns the working-size image. The pool is made for one load and closed after it,
 * so its workers' memory goes back at once. A cancelled load stops handing out files; decodes in
 * flight finish and are dropped.
 */
import * as Comlink from 'comlink';
import type { BrowserDecodeOptions } from './decodeBrowser';
import type { DecodeWorkerApi } from './decodeWorker';
import { datasetImage, type DatasetImage } from './types';

export const MAX_DECODERS = 4;

export class DecodePool {
  private readonly workers: Array<{ worker: Worker; api: Comlink.Remote<DecodeWorkerApi>; busy: number }>;

  constructor(
    private readonly options: BrowserDecodeOptions,
    size = Math.max(1, Math.min(MAX_DECODERS, (globalThis.navigator?.hardwareConcurrency ?? 2) - 1)),
  ) {
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(new URL('./decodeWorker.ts', import.meta.url), { type: 'module', name: 'rankscope-decoder' });
      return { worker, api: Comlink.wrap<DecodeWorkerApi>(worker), busy: 0 };
    });
  }

  get size(): number {
    return this.workers.length;
  }

  /** An ImageDecoder for the data set loaders. */
  readonly decode = async (bytes: Uint8Array, file: string): Promise<DatasetImage> => {
    const w = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    w.busy++;
    try {
      const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      const r = await w.api.decode(Comlink.transfer(owned, [owned.buffer as ArrayBuffer]), file, this.options);
      return datasetImage(r.data, r.width, r.height, r.channels as 1 | 3);
    } finally {
      w.busy--;
    }
  };

  close(): void {
    for (const w of this.workers) {
      w.api[Comlink.releaseProxy]();
      w.worker.terminate();
    }
  }
}
