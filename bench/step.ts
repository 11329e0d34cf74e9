/**
 * `npm run bench -- --only step`: one whole training step (forward, backward, AdamW) of the shipped
 * demo model (public/models/rankscope-vit-fmnist5, 3 blocks) per method, at batch 16 by default,
 * adapting query and value. Per method it reports launches per step and per transformer block,
 * the host time per launch (the time to encode one step, before waiting for the GPU, divided by
 * its launches), the wall time of one step including the GPU, and the pool's peak GPU bytes.
 */
import { resolve } from 'node:path';
import { loadMethod, METHODS } from '../src/methods/registry';
import type { GpuContext } from '../src/gpu/context';
import { loadCheckpointFrom, loadDatasetFolder } from '../src/io/node';
import { parseConfig } from '../src/models/spec';
import { buildModel, normalisationFor, prepareData } from '../src/session/prepare';
import { Trainer } from '../src/train/trainer';
import { table } from './report';
import { now } from './timing';

export const DEMO_MODEL = 'public/models/rankscope-vit-fmnist5';
export const DEMO_DATA = 'public/datasets/fashion-mnist-heldout';
export const STEP_TARGETS = ['query', 'value'];

export interface StepRow {
  method: string;
  launches_per_step: number;
  /** Launches per step divided by the model's transformer blocks (stem, head and optimizer included). */
  launches_per_block: number;
  /** Encoding time of one step (host, no GPU wait) per launch, in microseconds. */
  host_us_per_launch: number;
  /** One step from start to the GPU finishing it (median of the timed steps). */
  ms_per_step: number;
  host_ms_per_step: number;
  peak_gpu_bytes: number;
  steps_timed: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export async function benchStep(
  ctx: GpuContext,
  opts: { batch: number; methods?: string[]; steps: number; model?: string; data?: string },
  progress: (line: string) => void,
): Promise<StepRow[]> {
  const ckpt = await loadCheckpointFrom(resolve(opts.model ?? DEMO_MODEL));
  const dataset = await loadDatasetFolder(resolve(opts.data ?? DEMO_DATA));
  const data = prepareData(dataset, { valFraction: 0.1, seed: 0 });
  const norm = normalisationFor(parseConfig(ckpt.config, `${ckpt.source}/config.json`, ckpt.tensors.keys()), ckpt);
  const ids = opts.methods ?? Object.keys(METHODS);
  const rows: StepRow[] = [];
  for (const id of ids) {
    if (!(id in METHODS)) throw new Error(`bench step: unknown method "${id}"; choose from ${Object.keys(METHODS).join(', ')}`);
    ctx.submit();
    ctx.pool.trim();
    ctx.pool.peakAllocatedBytes = ctx.pool.allocatedBytes;
    await loadMethod(id);
    const model = buildModel(ctx, ckpt, data.classNames.length, 0);
    const trainer = new Trainer(model, data, norm, {
      method: id as never,
      targets: STEP_TARGETS,
      batchSize: opts.batch,
      steps: 1000,
      logEvery: 1000,
      evalEvery: 1000,
      seed: 0,
    });
    try {
      // Warm-up: compiles every pipeline and fills the pool.
      await trainer.trainStep();
      await ctx.flush();
      const walls: number[] = [];
      const hosts: number[] = [];
      let launches = 0;
      for (let i = 0; i < opts.steps; i++) {
        const before = ctx.launches;
        const t0 = now();
        await trainer.trainStep();
        const t1 = now();
        await ctx.flush();
        const t2 = now();
        launches = ctx.launches - before;
        hosts.push(t1 - t0);
        walls.push(t2 - t0);
      }
      const host = median(hosts);
      const row: StepRow = {
        method: id,
        launches_per_step: launches,
        launches_per_block: launches / model.spec.layers,
        host_us_per_launch: (host * 1000) / Math.max(1, launches),
        ms_per_step: median(walls),
        host_ms_per_step: host,
        peak_gpu_bytes: ctx.pool.peakAllocatedBytes,
        steps_timed: opts.steps,
      };
      progress(`step ${id}: ${launches} launches, ${row.host_us_per_launch.toFixed(1)} µs/launch host, ${row.ms_per_step.toFixed(0)} ms/step`);
      rows.push(row);
    } finally {
      trainer.release();
      model.release();
      await ctx.flush();
    }
  }
  return rows;
}

export function formatStepRows(rows: StepRow[]): string {
  return table(
    ['method', 'launches/step', 'launches/block', 'host µs/launch', 'ms/step', 'peak GPU MB'],
    rows.map((r) => [
      r.method,
      String(r.launches_per_step),
      r.launches_per_block.toFixed(1),
      r.host_us_per_launch.toFixed(1),
      r.ms_per_step.toFixed(0),
      (r.peak_gpu_bytes / 2 ** 20).toFixed(1),
    ]),
    [false, true, true, true, true, true],
  );
}
