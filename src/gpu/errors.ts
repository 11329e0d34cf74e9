/** Errors that reach a person: each says what went wrong, where, and what to do. */

export class WebGpuUnavailableError extends Error {
  override name = 'WebGpuUnavailableError';
  constructor(
    message: string,
    /** Why: 'missing' (no navigator.gpu), 'no-adapter', 'limits' (adapter too small), 'device' (requestDevice failed). */
    readonly reason: 'missing' | 'no-adapter' | 'limits' | 'device',
  ) {
    super(message);
  }
}

/** Shapes of the operands an op was run on, for messages such as "matmul [197,768]x[768,3072]". */
export type OpShapes = Record<string, readonly number[] | number>;

export function describeShapes(shapes: OpShapes | undefined): string {
  if (!shapes) return '';
  const parts = Object.entries(shapes).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : String(v)}`);
  return parts.length ? ` (${parts.join(' ')})` : '';
}

export class GpuOpError extends Error {
  constructor(
    message: string,
    readonly op: string,
    readonly shapes: OpShapes | undefined,
  ) {
    super(message);
  }
}

/**
 * Said after an error found in a batch of several launches: the batch shares one error scope, so
 * which of its ops failed is not known; this says how to find out.
 */
export const CHECK_EACH_LAUNCH_HINT =
  'The batch shares one error scope, so the failing op is one of those listed. For the exact op, ' +
  'set `checkEachLaunch = true` on the GpuContext (under Node: RANKSCOPE_CHECK_EACH_LAUNCH=1), ' +
  'which submits each launch alone (slower).';

export class GpuValidationError extends GpuOpError {
  override name = 'GpuValidationError';
  /** `hint` follows the message (CHECK_EACH_LAUNCH_HINT when `op` names a batch of several launches). */
  constructor(op: string, shapes: OpShapes | undefined, detail: string, hint = '') {
    super(`WebGPU rejected the kernel "${op}"${describeShapes(shapes)}: ${detail}${hint ? ` ${hint}` : ''}`, op, shapes);
  }
}

export class GpuOutOfMemoryError extends GpuOpError {
  override name = 'GpuOutOfMemoryError';
  constructor(op: string, shapes: OpShapes | undefined, detail: string, hint = '') {
    super(
      `The GPU ran out of memory in "${op}"${describeShapes(shapes)}: ${detail}. ` +
        'Use a smaller batch size, fewer target modules or a smaller model, or close other GPU-heavy tabs.' +
        (hint ? ` ${hint}` : ''),
      op,
      shapes,
    );
  }
}

/** "1.5 GB", "340 MB", "12 KB": sizes as a person reads them (decimal units, as drivers and shops use). */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${Math.round(v)} bytes` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/**
 * A buffer the engine did not even ask the device for: it is larger than the device lets one
 * buffer or binding be, or it would take the pool past its memory limit. Thrown synchronously by
 * the pool, so the op that wanted it is on the stack.
 */
export class GpuMemoryLimitError extends GpuOutOfMemoryError {
  override name = 'GpuMemoryLimitError';
  constructor(
    what: string,
    readonly requestedBytes: number,
    /** What the pool would hold with this buffer: a lower bound on what the work needs. */
    readonly neededBytes: number,
    readonly allowedBytes: number,
    readonly limit: string,
  ) {
    super(what, undefined, `${formatBytes(requestedBytes)} more would make ${formatBytes(neededBytes)}, past ${limit} of ${formatBytes(allowedBytes)}`);
  }
}

/**
 * A training run that ran out of GPU memory, in the words a person can act on: how much the run
 * needs at its batch size, what the GPU allowed, and what to try.
 */
export class RunOutOfMemoryError extends Error {
  override name = 'RunOutOfMemoryError';
  constructor(
    readonly neededBytes: number,
    readonly batch: number,
    readonly allowedBytes: number,
    readonly detail: string,
  ) {
    super(
      `Out of GPU memory: this run needs about ${formatBytes(neededBytes)} at batch ${batch}; your GPU allowed ` +
        `${formatBytes(allowedBytes)}; try batch ${Math.max(1, Math.floor(batch / 2))} or gradient accumulation ` +
        `(the same batch in smaller micro-batches). (${detail})`,
    );
  }
}

export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
  constructor(readonly reason: string, detail: string) {
    super(
      `The GPU device was lost (${reason}): ${detail || 'no detail given'}. ` +
        'Finished runs are kept; reload the page to get a new device.',
    );
  }
}
