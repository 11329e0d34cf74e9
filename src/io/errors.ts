/**
 * Errors from loading files, checkpoints and data sets. Each message names the file (and repo or
 * folder) and says what to do, because it is shown to a person as is. `code` lets callers react
 * (offer a retry on 'network', a token field on 'unauthorized') without parsing messages.
 */
export type IoErrorCode =
  | 'not-found'
  | 'unauthorized'
  | 'network'
  | 'http'
  | 'aborted'
  | 'format'
  | 'unsupported'
  | 'pickle';

export class IoError extends Error {
  override name: string;
  constructor(
    readonly code: IoErrorCode,
    message: string,
    /** The file the error is about, relative to its source, where there is one. */
    readonly file?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    // 'AbortError' is what fetch, react-query and most UI code already treat as "the user cancelled".
    this.name = code === 'aborted' ? 'AbortError' : 'IoError';
  }
}

export function isAbortError(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

export function abortedError(file: string, where: string): IoError {
  return new IoError('aborted', `Loading ${file} from ${where} was cancelled.`, file);
}

/** Throws the io layer's cancellation error if `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, file: string, where: string): void {
  if (signal?.aborted) throw abortedError(file, where);
}
