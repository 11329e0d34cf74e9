/**
 * Reading an HTTP response body chunk by chunk, so a person sees bytes done / total while a
 * 350 MB checkpoint downloads, and a cancel stops it between chunks.
 */
import { IoError, abortedError, throwIfAborted } from './errors';
import type { ReadOptions } from './source';

/** content-length is the transfer size; it is the file size only when the body is not re-encoded. */
export function declaredLength(res: Response): number | undefined {
  const enc = res.headers.get('content-encoding');
  if (enc && enc !== 'identity') return undefined;
  const len = res.headers.get('content-length');
  if (len === null || !/^\d+$/.test(len)) return undefined;
  return Number(len);
}

/** A body that broke off: the bytes that did arrive, for a Range request to continue from. */
class BrokenBody extends IoError {
  constructor(
    message: string,
    file: string,
    readonly loaded: number,
    cause: unknown,
  ) {
    super('network', message, file, { cause });
  }
}

/** Growable output buffer, preallocated when the size is known: two copies of a large checkpoint may not fit in a tab. */
class Sink {
  out: Uint8Array;
  loaded = 0;
  constructor(size: number | undefined) {
    this.out = new Uint8Array(size ?? 1 << 16);
  }
  push(c: Uint8Array): void {
    if (this.loaded + c.length > this.out.length) {
      const grown = new Uint8Array(Math.max(this.out.length * 2, this.loaded + c.length));
      grown.set(this.out.subarray(0, this.loaded));
      this.out = grown;
    }
    this.out.set(c, this.loaded);
    this.loaded += c.length;
  }
  bytes(): Uint8Array {
    return this.loaded === this.out.length ? this.out : this.out.slice(0, this.loaded);
  }
}

/** Copies a response body into `sink`, throwing BrokenBody (with the bytes so far) when the connection drops. */
async function pump(res: Response, sink: Sink, file: string, where: string, total: number | undefined, options: ReadOptions): Promise<void> {
  const { signal, onProgress } = options;
  if (!res.body) {
    sink.push(new Uint8Array(await res.arrayBuffer()));
    onProgress?.({ file, loaded: sink.loaded, total: total ?? sink.loaded });
    return;
  }
  const reader = res.body.getReader();
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      throwIfAborted(signal, file, where);
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (signal?.aborted) throw abortedError(file, where);
        throw new BrokenBody(
          `The download of ${file} from ${where} broke off after ${sink.loaded} bytes (${(e as Error).message}). Check the connection and try again.`,
          file,
          sink.loaded,
          e,
        );
      }
      throwIfAborted(signal, file, where);
      if (chunk.done) break;
      sink.push(chunk.value);
      onProgress?.({ file, loaded: sink.loaded, total });
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (total !== undefined && sink.loaded < total) {
    throw new BrokenBody(`The download of ${file} from ${where} ended after ${sink.loaded} of ${total} bytes. Check the connection and try again.`, file, sink.loaded, undefined);
  }
}

export async function readBody(res: Response, file: string, where: string, options: ReadOptions = {}): Promise<Uint8Array> {
  const total = declaredLength(res);
  options.onProgress?.({ file, loaded: 0, total });
  const sink = new Sink(total);
  await pump(res, sink, file, where, total, options);
  if (total !== undefined && sink.loaded !== total) {
    throw new IoError('network', `The download of ${file} from ${where} ended after ${sink.loaded} of ${total} bytes. Check the connection and try again.`, file);
  }
  return sink.bytes();
}

/**
 * Asks the server for the bytes from `from` on (a Range request; `ifRange` is the first
 * response's ETag, so a file that changed meanwhile comes whole instead of spliced).
 */
export type Reopen = (from: number, ifRange: string | undefined) => Promise<Response>;

/** How often a dropped download is continued before giving up. */
export const MAX_RESUMES = 3;

/**
 * Reads a response body, and when the connection drops, continues with Range requests where the
 * server honours them (206 from the byte it stopped at), or starts over where it does not (200),
 * up to MAX_RESUMES times. Returns the bytes and the first response's ETag.
 */
export async function readBodyResuming(first: Response, reopen: Reopen, file: string, where: string, options: ReadOptions = {}): Promise<{ bytes: Uint8Array; etag: string | undefined }> {
  const etag = first.headers.get('etag') ?? undefined;
  const total = declaredLength(first);
  options.onProgress?.({ file, loaded: 0, total });
  let sink = new Sink(total);
  let res = first;
  for (let resumes = 0; ; resumes++) {
    try {
      await pump(res, sink, file, where, total, options);
      break;
    } catch (e) {
      if (!(e instanceof BrokenBody) || resumes >= MAX_RESUMES || options.signal?.aborted) throw e;
      res = await reopen(sink.loaded, etag);
      const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (res.status === 206 && range && Number(range[1]) === sink.loaded) continue;
      if (res.status === 200) {
        sink = new Sink(total);
        continue;
      }
      void res.body?.cancel().catch(() => {});
      throw new IoError('network', `The download of ${file} from ${where} broke off after ${sink.loaded} bytes and could not be continued (HTTP ${res.status}). Try again.`, file);
    }
  }
  if (total !== undefined && sink.loaded !== total) {
    throw new IoError('network', `The download of ${file} from ${where} ended after ${sink.loaded} of ${total} bytes. Check the connection and try again.`, file);
  }
  return { bytes: sink.bytes(), etag };
}
