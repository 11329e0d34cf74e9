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

export async function readBody(res: Response, file: string, where: string, options: ReadOptions = {}): Promise<Uint8Array> {
  const { signal, onProgress } = options;
  const total = declaredLength(res);
  onProgress?.({ file, loaded: 0, total });
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ file, loaded: bytes.length, total: bytes.length });
    return bytes;
  }
  const reader = res.body.getReader();
  // Preallocate when the size is known: two copies of a large checkpoint may not fit in a tab.
  let out = new Uint8Array(total ?? 1 << 16);
  let loaded = 0;
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
        throw new IoError(
          'network',
          `The download of ${file} from ${where} broke off after ${loaded} bytes (${(e as Error).message}). Check the connection and try again.`,
          file,
          { cause: e },
        );
      }
      throwIfAborted(signal, file, where);
      if (chunk.done) break;
      const c = chunk.value;
      if (loaded + c.length > out.length) {
        const grown = new Uint8Array(Math.max(out.length * 2, loaded + c.length));
        grown.set(out.subarray(0, loaded));
        out = grown;
      }
      out.set(c, loaded);
      loaded += c.length;
      onProgress?.({ file, loaded, total });
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (total !== undefined && loaded !== total) {
    throw new IoError(
      'network',
      `The download of ${file} from ${where} ended after ${loaded} of ${total} bytes. Check the connection and try again.`,
      file,
    );
  }
  return loaded === out.length ? out : out.slice(0, loaded);
}
