/// <reference lib="webworker" />
/**
 * One decoder of the page's decode pool (decodePool.ts): photos are decoded and brought to working
 * size here, off the lab worker that trains, and only the small working-size pixels travel back.
 */
import * as Comlink from 'comlink';
import { decodeImageBrowser, type BrowserDecodeOptions } from './decodeBrowser';

const api = {
  async decode(bytes: Uint8Array, file: string, options: BrowserDecodeOptions) {
    const img = await decodeImageBrowser(bytes, file, options);
    const data = img.data as Uint8Array;
    return Comlink.transfer({ data, width: img.width, height: img.height, channels: img.channels }, [data.buffer as ArrayBuffer]);
  },
};

export type DecodeWorkerApi = typeof api;
Comlink.expose(api);
