/**
 * GEMM autotuning: times the candidate tilings (matmulTiling.ts) on the shape classes a model
 * uses, on this device, and keeps the fastest per class — in memory for `matmul`, and in a store
 * per adapter so the next session starts tuned.
 *
 * When it runs: switched on per device with `enableAutotune`; dense GEMMs then record their shape
 * classes as they launch. `Trainer.run` loads stored winners before its first step and tunes the
 * classes still unknown right after that step (outside any timed step, within a time budget, and
 * reported through its `onAutotune` hook); the bench does the same in its warm-up. Classes left
 * over when the budget runs out keep the default tiling and are tuned by a later run.
 *
 * Timing: GPU timestamps around each launch where the device has 'timestamp-query', else wall
 * time around a submitted and awaited launch. Each candidate is launched once untimed (pipeline
 * compilation), then timed `REPS` times (fastest counts), or once when a launch takes 100 ms or more.
 */
import type { GpuContext } from '../../gpu/context';
import { GpuProfiler } from '../../gpu/profiler';
import { DeviceLostError, GpuOutOfMemoryError } from '../../gpu/errors';
import { Tensor } from '../tensor';
import { matmul } from '../ops/matmul';
import { defaultTiling, parseTilingId, shapeClass, TILING_CANDIDATES, tilingId, tilingTable, type GemmShape } from '../ops/matmulTiling';
import { adapterKey, TUNING_VERSION, type TuningRecord, type TuningStore } from './store';

const REPS = 3;
/** A launch at least this long is timed once (SwiftShader under load varies ±5× on shorter ones: those get the fastest of three). */
const QUICK_MS = 100;
/** What a trainer may spend tuning at one time: "≤ 2 s" on SwiftShader for the demo model. */
export const DEFAULT_BUDGET_MS = 2000;

export interface AutotuneSettings {
  /** Wall-clock ms one `autotuneMatmuls` call may spend; classes past it keep their defaults. */
  budgetMs?: number;
  store?: TuningStore;
}

export type TunedSource = 'measured' | 'cache' | 'default';

/** One shape class as the page and the bench show it. */
export interface TunedClass {
  key: string;
  /** The representative shape timed (or seen), "MxNxK", with "×batch" when batched. */
  shape: string;
  tiling: string;
  defaultTiling: string;
  /** measured: timed in this session; cache: from the store; default: not tuned (yet). */
  source: TunedSource;
  /** ms per launch of each candidate timed, fastest first (all of them once measured or cached; those so far while a budget holds a class back). */
  timings: Array<{ tiling: string; ms: number }>;
  /** Why a class kept its default ("budget spent", "failed: …"). */
  note?: string;
}

export interface TuningSummary {
  enabled: boolean;
  /** Why tuning is off, when it is (e.g. "RANKSCOPE_AUTOTUNE=0"). */
  disabledReason?: string;
  adapter: string;
  store: string;
  timer: 'timestamp-query' | 'wall-clock';
  budgetMs: number;
  /** Wall ms spent tuning in this session, over `runs` calls. */
  spentMs: number;
  runs: number;
  classes: TunedClass[];
  /** A store that could not be read or written: tuning still applies for this session. */
  storeError?: string;
  /** The last few tuning calls (newest last): what each measured, how long, how much compiling. */
  recent: AutotuneReport[];
}

/** What one `autotuneMatmuls` call did. */
export interface AutotuneReport {
  measured: number;
  /** Classes left at their default because the budget ran out: a later run tunes them. */
  deferred: number;
  /** Candidate tilings timed in this call (over all classes). */
  tilingsTimed: number;
  /** Wall ms tuning took (the budget counts this). */
  spentMs: number;
  /** Of `spentMs`, the untimed first launches of the candidates: mostly pipeline compilation. */
  warmupMs: number;
  /** Waiting for work queued before tuning (not counted in the budget). */
  waitedMs: number;
  budgetMs: number;
  timer: TuningSummary['timer'];
  /** The winners of this call's classes, "tA0 tB1 M256 N64 K64 b1 → 8x16k16". */
  chosen: Array<{ key: string; tiling: string; defaultTiling: string }>;
  /** The training step it ran after (set by the trainer; a resumed run tunes after its first step, not step 1). */
  afterStep?: number;
}

interface TunerState {
  enabled: boolean;
  disabledReason?: string;
  budgetMs: number;
  store?: TuningStore;
  loaded: boolean;
  record: TuningRecord;
  measuredNow: Set<string>;
  notes: Map<string, string>;
  spentMs: number;
  runs: number;
  storeError?: string;
  recent: AutotuneReport[];
}

const states = new WeakMap<GpuContext, TunerState>();

function freshState(ctx: GpuContext, enabled: boolean, settings: AutotuneSettings, disabledReason?: string): TunerState {
  return {
    enabled,
    disabledReason,
    budgetMs: settings.budgetMs ?? DEFAULT_BUDGET_MS,
    store: settings.store,
    loaded: false,
    record: { version: TUNING_VERSION, adapter: adapterKey(ctx.device), classes: {} },
    measuredNow: new Set(),
    notes: new Map(),
    spentMs: 0,
    runs: 0,
    recent: [],
  };
}

/** Turns tuning on for a device: GEMMs record their shape classes from now on. */
export function enableAutotune(ctx: GpuContext, settings: AutotuneSettings = {}): void {
  states.set(ctx, freshState(ctx, true, settings));
  tilingTable(ctx).seen ??= new Map();
}

/** Records that tuning is off for this device and why, so the summary can say so. */
export function disableAutotune(ctx: GpuContext, reason: string): void {
  states.set(ctx, freshState(ctx, false, {}, reason));
  const table = tilingTable(ctx);
  table.seen = undefined;
  table.chosen.clear();
}

export function autotuneEnabled(ctx: GpuContext): boolean {
  return states.get(ctx)?.enabled ?? false;
}

/** Puts the store's winners for this adapter in place (once per device); a failing store is noted, not thrown. */
export async function loadTuning(ctx: GpuContext): Promise<void> {
  const st = states.get(ctx);
  if (!st?.enabled || st.loaded) return;
  st.loaded = true;
  if (!st.store) return;
  try {
    const rec = await st.store.load(st.record.adapter);
    if (!rec) return;
    const table = tilingTable(ctx);
    for (const [cls, entry] of Object.entries(rec.classes)) {
      const t = parseTilingId(entry.tiling);
      // A tiling no longer among the candidates is dropped: that class is tuned again.
      if (!t || st.record.classes[cls]) continue;
      st.record.classes[cls] = entry;
      table.chosen.set(cls, t);
    }
    // Classes a budget cut short in an earlier session go on from the tilings already timed.
    if (rec.partial) st.record.partial = { ...rec.partial, ...st.record.partial };
  } catch (e) {
    st.storeError = `could not read ${st.store.description}: ${(e as Error).message}`;
  }
}

/** Shape classes met since tuning was switched on that have no winner yet. */
export function pendingClasses(ctx: GpuContext): number {
  const table = tilingTable(ctx);
  if (!autotuneEnabled(ctx) || !table.seen) return 0;
  let n = 0;
  for (const cls of table.seen.keys()) if (!table.chosen.has(cls)) n++;
  return n;
}

function shapeText(s: GemmShape): string {
  return `${s.M}x${s.N}x${s.K}${s.batch > 1 ? `×${s.batch}` : ''}`;
}

/**
 * ms per launch of one candidate, by GPU timestamps or wall clock: one timed launch, and two more
 * (the fastest counts) unless it took 100 ms or more — long against the timer's jitter, and on a
 * slow device repeating it would eat the budget.
 */
async function timeLaunches(ctx: GpuContext, launch: (op: string) => void, timer: TuningSummary['timer']): Promise<number> {
  const once = async (op: string): Promise<number> => {
    if (timer === 'timestamp-query') {
      const saved = ctx.profiler;
      const profiler = new GpuProfiler(ctx.device, 1);
      ctx.profiler = profiler;
      const t0 = performance.now();
      try {
        launch(op);
        await ctx.flush();
      } finally {
        ctx.profiler = saved;
        profiler.destroy();
      }
      const ms = profiler.report()[0]?.ms ?? 0;
      // Some drivers quantise timestamps to 0 for tiny passes; then wall time is the better guess.
      if (ms > 0) return ms;
      return performance.now() - t0;
    }
    const t0 = performance.now();
    launch(op);
    await ctx.flush();
    return performance.now() - t0;
  };
  let best = await once('autotune #0');
  if (best >= QUICK_MS) return best;
  for (let r = 1; r < REPS; r++) best = Math.min(best, await once(`autotune #${r}`));
  return best;
}

/**
 * Times every candidate tiling on each shape class met and not yet tuned, largest total work
 * first (on zero-filled operands of the class's largest shape seen, with that launch's bias and
 * activation, so the timed kernel is the one the step runs), until the budget is spent; keeps the
 * winners and saves them to the store. Must be called between steps: it submits and awaits GPU
 * work of its own.
 */
export async function autotuneMatmuls(ctx: GpuContext, options: { budgetMs?: number } = {}): Promise<AutotuneReport> {
  const st = states.get(ctx);
  const timer: TuningSummary['timer'] = GpuProfiler.supported(ctx.device) ? 'timestamp-query' : 'wall-clock';
  const budgetMs = options.budgetMs ?? st?.budgetMs ?? DEFAULT_BUDGET_MS;
  const report: AutotuneReport = { measured: 0, deferred: 0, tilingsTimed: 0, spentMs: 0, warmupMs: 0, waitedMs: 0, budgetMs, timer, chosen: [] };
  if (!st?.enabled) return report;
  await loadTuning(ctx);
  const table = tilingTable(ctx);
  const pending = [...(table.seen ?? new Map()).entries()].filter(([cls]) => !table.chosen.has(cls)).sort((a, b) => b[1].flops - a[1].flops);
  if (pending.length === 0) return report;
  // Work queued before tuning (the step just encoded) is not the tuner's: it is waited for first,
  // outside the budget, as the next step would have waited for it anyway.
  const w0 = performance.now();
  await ctx.flush();
  const t0 = performance.now();
  report.waitedMs = t0 - w0;
  const partial = (st.record.partial ??= {});
  let candidatesTimed = 0;
  // Candidates are timed one at a time until the budget is spent: the first always runs (so each
  // call makes progress even where one pipeline takes longer than the budget to compile, as on
  // SwiftShader), and a class's timings so far are kept (and stored) until its last candidate is
  // done. A budget of 0 times nothing. Untuned classes keep the default tiling meanwhile.
  const spent = () => performance.now() - t0;
  for (const [cls, seen] of pending) {
    const started = partial[cls];
    const s = started?.shape ?? seen.shape;
    const ms: Record<string, number | null> = started?.ms ?? {};
    const todo = TILING_CANDIDATES.filter((t) => !(tilingId(t) in ms));
    if (todo.length > 0 && (budgetMs <= 0 || (candidatesTimed > 0 && spent() >= budgetMs))) {
      report.deferred++;
      st.notes.set(cls, `budget of ${budgetMs} ms spent after ${Object.keys(ms).length} of ${TILING_CANDIDATES.length} tilings; a later run goes on`);
      continue;
    }
    partial[cls] = { shape: { ...s }, ms };
    const lead = s.batch > 1 ? [s.batch] : [];
    const a = Tensor.zeros(ctx, [...lead, ...(s.transA ? [s.K, s.M] : [s.M, s.K])], 'autotune-a');
    const b = Tensor.zeros(ctx, [...lead, ...(s.transB ? [s.N, s.K] : [s.K, s.N])], 'autotune-b');
    const out = Tensor.empty(ctx, [...lead, s.M, s.N], 'autotune-c');
    const bias = s.bias ? Tensor.zeros(ctx, [s.N], 'autotune-bias') : undefined;
    try {
      for (const tiling of todo) {
        if (candidatesTimed > 0 && spent() >= budgetMs) break;
        const id = tilingId(tiling);
        const launch = (op: string) => void matmul(a, b, { transA: s.transA, transB: s.transB, bias, activation: s.activation, out, tiling, op });
        candidatesTimed++;
        try {
          // Untimed: compiles the pipeline.
          const c0 = performance.now();
          launch('autotune warm-up');
          await ctx.flush();
          report.warmupMs += performance.now() - c0;
          ms[id] = await timeLaunches(ctx, launch, timer);
        } catch (e) {
          // A lost device or exhausted memory is not the tiling's fault: that goes to the caller
          // (the run's own recovery), and nothing about this tiling is recorded.
          if (ctx.lost || e instanceof DeviceLostError || e instanceof GpuOutOfMemoryError) throw e;
          // A tiling this device rejects is simply not a candidate here.
          ms[id] = null;
          st.notes.set(cls, `${id} failed: ${(e as Error).message.split('\n')[0]}`);
        }
      }
    } finally {
      for (const t of [a, b, out, bias]) t?.release();
    }
    const done = TILING_CANDIDATES.every((t) => tilingId(t) in ms);
    const ranked = Object.entries(ms).filter((e): e is [string, number] => e[1] !== null).sort((x, y) => x[1] - y[1]);
    if (!done || ranked.length === 0) {
      report.deferred++;
      if (!done) st.notes.set(cls, `budget of ${budgetMs} ms spent after ${Object.keys(ms).length} of ${TILING_CANDIDATES.length} tilings; a later run goes on`);
      continue;
    }
    delete partial[cls];
    const winner = ranked[0][0];
    table.chosen.set(cls, parseTilingId(winner)!);
    st.record.classes[cls] = { tiling: winner, ms: Object.fromEntries(ranked), shape: shapeText(s), measuredAt: new Date().toISOString() };
    st.measuredNow.add(cls);
    if (!st.notes.get(cls)?.includes('failed')) st.notes.delete(cls);
    report.measured++;
    report.chosen.push({ key: cls, tiling: winner, defaultTiling: tilingId(defaultTiling(s.M, s.N)) });
  }
  report.tilingsTimed = candidatesTimed;
  report.spentMs = performance.now() - t0;
  st.spentMs += report.spentMs;
  st.runs++;
  st.recent = [...st.recent.slice(-4), report];
  if (st.store && candidatesTimed > 0) {
    try {
      await st.store.save(st.record);
    } catch (e) {
      st.storeError = `could not write ${st.store.description}: ${(e as Error).message}`;
    }
  }
  return report;
}

/** The device's tuning state for the page's GPU dialog and the bench: every class met or stored. */
export function tuningSummary(ctx: GpuContext): TuningSummary {
  const st = states.get(ctx) ?? freshState(ctx, false, {}, 'not switched on for this device');
  const table = tilingTable(ctx);
  const classes: TunedClass[] = [];
  const keys = new Set([...Object.keys(st.record.classes), ...Object.keys(st.record.partial ?? {}), ...(table.seen?.keys() ?? [])]);
  for (const key of [...keys].sort()) {
    const rec = st.record.classes[key];
    const part = st.record.partial?.[key];
    const seen = part?.shape ?? table.seen?.get(key)?.shape;
    const shape = rec?.shape ?? (seen ? shapeText(seen) : '?');
    const sofar = Object.entries(part?.ms ?? {}).filter((e): e is [string, number] => e[1] !== null);
    const dims = /^(\d+)x(\d+)x/.exec(shape);
    const def = dims ? tilingId(defaultTiling(+dims[1], +dims[2])) : '?';
    classes.push({
      key,
      shape,
      tiling: rec ? rec.tiling : def,
      defaultTiling: def,
      source: rec ? (st.measuredNow.has(key) ? 'measured' : 'cache') : 'default',
      // A class still being tuned shows the tilings timed so far.
      timings: (rec ? Object.entries(rec.ms) : sofar).sort((x, y) => x[1] - y[1]).map(([tiling, v]) => ({ tiling, ms: v })),
      ...(st.notes.has(key) ? { note: st.notes.get(key) } : {}),
    });
  }
  return {
    enabled: st.enabled,
    ...(st.disabledReason ? { disabledReason: st.disabledReason } : {}),
    adapter: st.record.adapter,
    store: st.store?.description ?? 'none (this session only)',
    timer: GpuProfiler.supported(ctx.device) ? 'timestamp-query' : 'wall-clock',
    budgetMs: st.budgetMs,
    spentMs: st.spentMs,
    runs: st.runs,
    classes,
    ...(st.storeError ? { storeError: st.storeError } : {}),
    recent: st.recent,
  };
}
