/**
 * Turning an out-of-memory failure inside a training step into a clean end of that run: the
 * step's half-made tensors are reclaimed (so the runs queued after it get their memory back) and
 * the error says what the run needs at its batch size and what to try.
 */
import type { GpuContext } from './context';
import { GpuMemoryLimitError, GpuOutOfMemoryError, RunOutOfMemoryError } from './errors';

export function isOutOfMemory(e: unknown): e is GpuOutOfMemoryError {
  return e instanceof GpuOutOfMemoryError;
}

/**
 * For a step that threw `e` after `mark = ctx.pool.mark()`: when `e` is out of memory, frees what
 * the step had taken and returns a `RunOutOfMemoryError` for batch `batch`; any other error comes
 * back as it is. `neededBytes` is what the pool would have held when it failed (a lower bound on
 * the step's peak, hence "about"); `allowedBytes` the limit it hit, or for an error the driver
 * reported, what was held when it came.
 */
export async function outOfMemoryForRun(ctx: GpuContext, mark: number, e: unknown, batch: number): Promise<unknown> {
  if (!isOutOfMemory(e)) return e;
  const held = ctx.pool.allocatedBytes;
  const peak = ctx.pool.peakAllocatedBytes;
  // Submit what was recorded (its own errors are moot now) before the buffers it uses go.
  await ctx.flush().catch(() => undefined);
  ctx.pool.abandonSince(mark);
  if (e instanceof GpuMemoryLimitError) return new RunOutOfMemoryError(Math.max(e.neededBytes, peak), batch, e.allowedBytes, e.message);
  return new RunOutOfMemoryError(peak, batch, held, e.message);
}
