/**
 * `npm run bench -- --only step`: whole training steps (forward, backward, AdamW) per method, on
 * the shipped demo model (public/models/rankscope-vit-fmnist5, 3 blocks) and, with `--shapes`, on
 * ViT-S/16 and ViT-B/16 shapes with random weights. Per method and model it reports launches per
 * step and per transformer block, the host time per launch (the time to encode one step, before
 * waiting for the GPU, divided by its launches) and the time spent inside `ctx.launch` alone, the
 * wall time of one step including the GPU, images per second and the pool's peak GPU bytes.
 *
 * Noise on a shared machine is large, so methods are interleaved: each round runs one timed block
 * of steps per method (every method's trainer is built once, up front), and the figures are
 * medians over all rounds.
 */
import { resolve } from 'node:path';
import { loadMethod, methodById, METHODS, resolvedConfig } from '../src/methods/registry';
import type { GpuContext, KernelLaunch } from '../src/gpu/context';
import { loadDatasetFolder } from '../src/io/node';
import { parseConfig } from '../src/models/spec';
import { buildModel, normalisationFor, prepareData } from '../src/session/prepare';
import { Trainer } from '../src/train/trainer';
import { useTunedTilings } from '../src/engine/ops/matmulTiling';
import { autotuneEnabled, autotuneMatmuls, type AutotuneReport } from '../src/engine/tuning/matmulTuner';
import { table } from './report';
import { DEMO_DATA, defaultBatch, stepCheckpoint, type StepShape } from './stepModels';
import { now } from './timing';

export { DEMO_DATA, DEMO_MODEL } from './stepModels';
export const STEP_TARGETS = ['query', 'value'];

export interface StepRow {
  method: string;
  /** The model: "demo (3 blocks)", "vit-s16", "vit-b16 (2 of 12 blocks)", … */
  model: string;
  batch: number;
  targets: string[];
  launches_per_step: number;
  /** Launches per step divided by the model's transformer blocks (stem, head and optimizer included). */
  launches_per_block: number;
  /** Encoding time of one step (host, no GPU wait) per launch, in microseconds. */
  host_us_per_launch: number;
  /**
   * Process CPU time (user + system) of encoding one step, per launch: less sensitive than
   * `host_us_per_launch` to other processes taking the cores (SwiftShader's threads are mostly
   * idle while a step is encoded: the batch is submitted at the end).
   */
  host_cpu_us_per_launch: number;
  /** Time inside `ctx.launch` alone per launch (the launch path, without the ops' own JS), in microseconds. */
  launch_us_per_launch: number;
  /** One step from start to the GPU finishing it (median of the timed steps). */
  ms_per_step: number;
  images_per_second: number;
  host_ms_per_step: number;
  /** The pool's peak bytes while this method's trainer was built and stepped (trimmed before it). */
  peak_gpu_bytes: number;
  /**
   * Frozen bytes the method keeps beside the model (shared random bases and the dense copies its
   * GEMMs read), from the method's own memory estimate (`frozenFloats`); part of `peak_gpu_bytes`.
   */
  frozen_bytes: number;
  /**
   * GEMM tilings in these steps: "on" (the autotuner's winners for this GPU, tuned in the warm-up
   * or read from the cache) or "off" (the default tilings).
   */
  autotune: 'on' | 'off';
  /** Pipelines compiled during timed steps: should be 0 (all compiled in the warm-up step). */
  compiled_while_timed: number;
  /** Bind groups made per timed step (the rest came from the cache); absent where the context has no cache. */
  bind_groups_per_step?: number;
  steps_timed: number;
}

export interface StepOptions {
  methods?: string[];
  /** Timed steps per method per round. */
  steps: number;
  /** Rounds: every method runs `steps` timed steps per round, methods interleaved. */
  rounds: number;
  shapes: StepShape[];
  /** Images per step; default per shape (demo 16, ViT shapes 8). */
  batch?: number;
  /** Keep only this many blocks of the ViT shapes. */
  depth?: number;
  targets: string[];
  /** Time default tilings, tuned ones, or both (interleaved); tuning must be switched on for the context to time "on". */
  autotune?: 'on' | 'off' | 'both';
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Wraps `ctx.launch` to add up its own host time; returns the running total in ms and an undo. */
function timeLaunches(ctx: GpuContext): { ms: () => number; restore: () => void } {
  const inner = ctx.launch;
  let ms = 0;
  ctx.launch = function timed(this: GpuContext, k: KernelLaunch) {
    const t = now();
    try {
      inner.call(this, k);
    } finally {
      ms += now() - t;
    }
  };
  return { ms: () => ms, restore: () => void (ctx.launch = inner) };
}

interface Sample {
  host: number;
  cpuUs: number;
  wall: number;
  launchMs: number;
  launches: number;
  compiled: number;
  groups?: number;
}

export async function benchStep(
  ctx: GpuContext,
  opts: StepOptions,
  progress: (line: string) => void,
  tuning: AutotuneReport[] = [],
): Promise<StepRow[]> {
  const tuned = autotuneEnabled(ctx);
  const wanted = opts.autotune ?? (tuned ? 'on' : 'off');
  if (wanted !== 'off' && !tuned) throw new Error('bench step: --autotune on/both needs autotuning switched on for the context (it is off: RANKSCOPE_AUTOTUNE=0?)');
  // Each timed block of a method runs once per mode; "both" interleaves default and tuned tilings.
  const modes: Array<'on' | 'off'> = wanted === 'both' ? ['off', 'on'] : [wanted];
  const dataset = await loadDatasetFolder(resolve(DEMO_DATA));
  const data = prepareData(dataset, { valFraction: 0.1, seed: 0 });
  const ids = opts.methods ?? Object.keys(METHODS);
  for (const id of ids) {
    if (!(id in METHODS)) throw new Error(`bench step: unknown method "${id}"; choose from ${Object.keys(METHODS).join(', ')}`);
    await loadMethod(id);
  }
  const rows: StepRow[] = [];
  for (const shape of opts.shapes) {
    const { ckpt, name } = await stepCheckpoint(shape, opts.depth);
    const spec = parseConfig(ckpt.config, `${ckpt.source}/config.json`, ckpt.tensors.keys());
    const norm = normalisationFor(spec, ckpt);
    const batch = opts.batch ?? defaultBatch(shape);
    // One model and trainer per method, all alive at once, so rounds can interleave methods.
    const runs: Array<{ id: string; trainer: Trainer; release: () => void; peak: number; frozen: number; samples: Record<'on' | 'off', Sample[]> }> = [];
    const timer = timeLaunches(ctx);
    try {
      for (const id of ids) {
        await ctx.flush();
        ctx.pool.trim();
        const base = ctx.pool.allocatedBytes;
        ctx.pool.peakAllocatedBytes = base;
        const model = buildModel(ctx, ckpt, data.classNames.length, 0);
        const trainer = new Trainer(model, data, norm, {
          method: id as never,
          targets: opts.targets,
          batchSize: batch,
          steps: 1000,
          logEvery: 1000,
          evalEvery: 1000,
          seed: 0,
        });
        const release = () => {
          trainer.release();
          model.release();
        };
        // Warm-up: compiles every pipeline and fills the pool.
        await trainer.trainStep();
        await ctx.flush();
        // Peak of this method alone: what earlier methods' live trainers hold is subtracted.
        const method = methodById(id);
        const frozen = method.usesTargets ? 4 * method.frozenFloats(resolvedConfig(id, undefined), model.targetLayers(opts.targets)) : 0;
        runs.push({ id, trainer, release, peak: ctx.pool.peakAllocatedBytes - base, frozen, samples: { on: [], off: [] } });
        // Tuning, as a trainer does it after its first step: the classes this method met and the
        // cache lacks, within the budget. Never inside a timed step.
        if (tuned) {
          const r = await autotuneMatmuls(ctx);
          tuning.push(r);
          progress(`step ${name} ${id}: autotune measured ${r.measured} shape classes (${r.deferred} deferred) in ${r.spentMs.toFixed(0)} ms`);
        }
        progress(`step ${name} ${id}: warmed up`);
      }
      // A settling round, untimed: once every method's temporaries are in the pool, each step
      // starts from the same free set, so it gets the same buffers at every later step (see
      // BufferPool) and its bind groups are made here.
      // Each mode settles too: the tuned tilings' pipelines compile here, not in a timed step.
      for (const run of runs) {
        for (const mode of modes) {
          useTunedTilings(ctx, mode === 'on');
          await run.trainer.trainStep();
        }
      }
      await ctx.flush();
      for (let round = 0; round < opts.rounds; round++) {
        for (const run of runs) {
          // Alternate which mode goes first, so neither always follows the other method's steps.
          for (const mode of round % 2 ? [...modes].reverse() : modes) {
            useTunedTilings(ctx, mode === 'on');
            for (let i = 0; i < opts.steps; i++) {
              const before = ctx.launches;
              const compiledBefore = ctx.pipelines.compiled;
              // Optional: the same bench also runs against a context without the bind group cache.
              const groupsBefore = (ctx as Partial<GpuContext>).bindGroups?.created;
              const launchMs = timer.ms();
              const c0 = process.cpuUsage();
              const t0 = now();
              await run.trainer.trainStep();
              const t1 = now();
              const c1 = process.cpuUsage(c0);
              await ctx.flush();
              const t2 = now();
              run.samples[mode].push({
                host: t1 - t0,
                cpuUs: c1.user + c1.system,
                wall: t2 - t0,
                launchMs: timer.ms() - launchMs,
                launches: ctx.launches - before,
                compiled: ctx.pipelines.compiled - compiledBefore,
                groups: groupsBefore === undefined ? undefined : ctx.bindGroups.created - groupsBefore,
              });
            }
          }
        }
      }
      const measured = runs.flatMap((run) => modes.map((mode) => ({ run, mode })));
      for (const { run, mode } of measured) {
        const s = run.samples[mode];
        const launches = s[s.length - 1].launches;
        const host = median(s.map((x) => x.host));
        const wall = median(s.map((x) => x.wall));
        const row: StepRow = {
          method: run.id,
          model: name,
          batch,
          targets: opts.targets,
          autotune: mode,
          launches_per_step: launches,
          launches_per_block: launches / spec.layers,
          host_us_per_launch: (host * 1000) / Math.max(1, launches),
          host_cpu_us_per_launch: median(s.map((x) => x.cpuUs / Math.max(1, x.launches))),
          launch_us_per_launch: median(s.map((x) => (x.launchMs * 1000) / Math.max(1, x.launches))),
          ms_per_step: wall,
          images_per_second: (batch * 1000) / wall,
          host_ms_per_step: host,
          peak_gpu_bytes: run.peak,
          frozen_bytes: run.frozen,
          compiled_while_timed: s.reduce((a, x) => a + x.compiled, 0),
          bind_groups_per_step: s[0].groups === undefined ? undefined : median(s.map((x) => x.groups ?? 0)),
          steps_timed: s.length,
        };
        progress(
          `step ${name} ${run.id} (tuning ${mode}): ${launches} launches, ${row.host_us_per_launch.toFixed(1)} µs/launch host ` +
            `(${row.launch_us_per_launch.toFixed(1)} in ctx.launch), ${row.ms_per_step.toFixed(0)} ms/step` +
            (row.bind_groups_per_step === undefined ? '' : `, ${row.bind_groups_per_step} bind groups made per step`),
        );
        rows.push(row);
      }
    } finally {
      useTunedTilings(ctx, true);
      timer.restore();
      for (const run of runs) run.release();
      await ctx.flush();
    }
  }
  return rows;
}

export function formatStepRows(rows: StepRow[]): string {
  const lora = new Map(rows.filter((r) => r.method === 'lora').map((r) => [`${r.model}|${r.autotune}`, r.ms_per_step]));
  return table(
    ['model', 'method', 'tuning', 'batch', 'launches/step', 'launches/block', 'host µs/launch', 'CPU µs/launch', 'µs in launch', 'ms/step', 'img/s', 'vs LoRA', 'peak GPU MB', 'frozen MB'],
    rows.map((r) => {
      const l = lora.get(`${r.model}|${r.autotune}`);
      return [
        r.model,
        r.method,
        r.autotune,
        String(r.batch),
        String(r.launches_per_step),
        r.launches_per_block.toFixed(1),
        r.host_us_per_launch.toFixed(1),
        r.host_cpu_us_per_launch.toFixed(1),
        r.launch_us_per_launch.toFixed(1),
        r.ms_per_step.toFixed(0),
        r.images_per_second.toFixed(2),
        l ? `${(r.ms_per_step / l).toFixed(2)}×` : '',
        (r.peak_gpu_bytes / 2 ** 20).toFixed(1),
        (r.frozen_bytes / 2 ** 20).toFixed(2),
      ];
    }),
    [false, false, false, true, true, true, true, true, true, true, true, true, true, true],
  );
}
