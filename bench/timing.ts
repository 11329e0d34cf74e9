/**
 * Wall-clock timing of GPU work under a time budget: a warm-up run (pipeline compilation, first
 * touches of buffers) is discarded, then batches of iterations run, each ended by a full sync,
 * until both a minimum number of iterations and a minimum time are reached. Batches grow so that
 * a fast kernel on a real GPU is measured over many launches (the sync costs tens of microseconds),
 * while a slow one on SwiftShader is timed one iteration at a time.
 */
import type { GpuContext } from '../src/gpu/context';

export interface Budget {
  /** Never fewer timed iterations than this. */
  minIters: number;
  /** Never more timed iterations than this. */
  maxIters: number;
  /** Keep iterating until this much time has been spent timing (after minIters). */
  seconds: number;
  /**
   * Stop once this much time has been spent, even short of minIters (never before one timed
   * iteration): a step that takes seconds on a software GPU is timed once or twice, not three times.
   */
  maxSeconds: number;
}

export interface Timing {
  iters: number;
  /** Median over batches of (batch wall time / batch size). */
  msPerIter: number;
  /** Fastest batch, per iteration. */
  minMsPerIter: number;
  /** Sum of timestamp-query pass durations per iteration, when the profiler was on. */
  gpuMsPerIter?: number;
}

export const now = (): number => performance.now();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Times `run(n)`, which must perform n iterations and return only once the device has finished them.
 * `maxBatch` caps how many iterations one call may do (the profiler records a bounded number of passes per submit).
 */
export async function timeLoop(
  run: (n: number) => Promise<void>,
  budget: Budget,
  maxBatch = Infinity,
  warmUp = true,
): Promise<Timing> {
  if (warmUp) await run(1); // discarded
  const samples: number[] = [];
  let iters = 0;
  let spent = 0;
  let batch = 1;
  const more = () =>
    iters === 0 ||
    (iters < budget.maxIters && (iters < budget.minIters || spent < budget.seconds * 1000) && spent < budget.maxSeconds * 1000);
  while (more()) {
    const t0 = now();
    await run(batch);
    const dt = now() - t0;
    samples.push(dt / batch);
    iters += batch;
    spent += dt;
    const per = Math.max(dt / batch, 1e-3);
    // Aim each batch at a fifth of the budget, so there are several samples to take a median over.
    const target = Math.floor((budget.seconds * 1000) / 5 / per);
    batch = Math.max(1, Math.min(target, maxBatch, budget.maxIters - iters));
  }
  return { iters, msPerIter: median(samples), minMsPerIter: Math.min(...samples) };
}

/** Passes the profiler can time in one submit, with margin (it holds 512). */
const PROFILED_PASSES_PER_SUBMIT = 400;

/**
 * Times `step` (which only records launches on `ctx`) with a flush after each batch. When the context
 * has a profiler, also reports the GPU time of every pass the steps launched.
 */
export async function timeSteps(ctx: GpuContext, step: () => void, budget: Budget): Promise<Timing> {
  // Warm-up (compiles the pipelines), which also counts the launches one step makes.
  const before = ctx.launches;
  step();
  await ctx.flush();
  ctx.profiler?.reset();
  const launchesPerStep = Math.max(1, ctx.launches - before);
  const maxBatch = ctx.profiler ? Math.max(1, Math.floor(PROFILED_PASSES_PER_SUBMIT / launchesPerStep)) : Infinity;
  let timedIters = 0;
  const timing = await timeLoop(
    async (n) => {
      for (let i = 0; i < n; i++) step();
      await ctx.flush();
      timedIters += n;
    },
    budget,
    maxBatch,
    false,
  );
  if (ctx.profiler && timedIters > 0) {
    const totalMs = ctx.profiler.report().reduce((a, r) => a + r.ms, 0);
    ctx.profiler.reset();
    if (totalMs > 0) timing.gpuMsPerIter = totalMs / timedIters;
  }
  return timing;
}

/**
 * Runs set-up work with the profiler detached, then flushes. GpuContext.upload submits the pending
 * batch, and a second submit while the profiler's read-back buffer is still being mapped fails
 * validation ("[Buffer profiler-read] used in submit while pending map"), so uploads must not
 * share a flush with profiled launches.
 */
export async function unprofiled<R>(ctx: GpuContext, setup: () => R): Promise<R> {
  const profiler = ctx.profiler;
  ctx.profiler = undefined;
  try {
    const result = setup();
    await ctx.flush();
    return result;
  } finally {
    ctx.profiler = profiler;
  }
}
