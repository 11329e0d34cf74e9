/**
 * Opt-in: what mixed precision (frozen block linear weights in f16, f32 arithmetic) saves, per
 * model, in one process: the model's GPU bytes in the pool, the pool's peak over one LoRA training
 * step, the step's wall time, and the startup check's logit error. f32 and mixed runs alternate
 * on the same checkpoint.
 *
 *   node scripts/run-ts.mjs bench/precisionMemory.ts [--shapes demo,vit-b16] [--depth 1] [--batch 2]
 *
 * Prints a table and one JSON row per (model, precision).
 */
import { resolve } from 'node:path';
import { nodeGpu } from '../src/gpu/node';
import { loadDatasetFolder } from '../src/io/node';
import { loadMethod } from '../src/methods/registry';
import { parseConfig } from '../src/models/spec';
import { buildModel, normalisationFor, prepareData } from '../src/session/prepare';
import { Trainer } from '../src/train/trainer';
import { table } from './report';
import { DEMO_DATA, STEP_SHAPES, stepCheckpoint, type StepShape } from './stepModels';
import { now } from './timing';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const shapes = arg('--shapes', 'demo,vit-b16').split(',') as StepShape[];
for (const s of shapes) if (!(STEP_SHAPES as readonly string[]).includes(s)) throw new Error(`--shapes: unknown shape "${s}"; choose from ${STEP_SHAPES.join(', ')}`);
const depth = Number(arg('--depth', '1'));
const batch = Number(arg('--batch', '2'));

const { ctx, summary } = await nodeGpu();
ctx.checkEachLaunch = false;
await loadMethod('lora');
const data = prepareData(await loadDatasetFolder(resolve(DEMO_DATA)), { valFraction: 0.1, seed: 0 });
const mib = (b: number) => (b / 2 ** 20).toFixed(2);
const rows: Array<Record<string, string | number>> = [];
for (const shape of shapes) {
  const { ckpt, name } = await stepCheckpoint(shape, depth);
  const spec = parseConfig(ckpt.config, `${ckpt.source}/config.json`, ckpt.tensors.keys());
  for (const mixed of [false, true]) {
    await ctx.flush();
    ctx.pool.trim();
    const base = ctx.pool.allocatedBytes;
    ctx.mixedPrecision = mixed;
    const model = buildModel(ctx, ckpt, data.classNames.length, 0);
    const trainer = new Trainer(model, data, normalisationFor(spec, ckpt), { method: 'lora', targets: ['query', 'value'], batchSize: batch, steps: 10, logEvery: 1000, evalEvery: 1000, seed: 0 });
    const report = await trainer.applyPrecision();
    await ctx.flush();
    // The model and the adapters as they stay for the run (the check's activations trimmed away).
    ctx.pool.trim();
    const modelBytes = ctx.pool.allocatedBytes - base;
    ctx.pool.peakAllocatedBytes = ctx.pool.allocatedBytes;
    await trainer.trainStep(); // warm-up: compiles
    await ctx.flush();
    const t = now();
    await trainer.trainStep();
    await ctx.flush();
    const ms = now() - t;
    const row = {
      model: name,
      precision: report.mode,
      batch,
      model_gpu_bytes: modelBytes,
      peak_step_gpu_bytes: ctx.pool.peakAllocatedBytes - base,
      frozen_f32_bytes: report.check?.bytesF32 ?? 0,
      frozen_f16_bytes: report.check?.bytesF16 ?? 0,
      logit_error: report.check ? Number(report.check.error.toExponential(2)) : 0,
      ms_per_step: Math.round(ms),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    trainer.release();
    model.release();
  }
}
console.log(`adapter: ${summary.description || summary.vendor}; shader-f16: ${ctx.device.features.has('shader-f16')}`);
console.log(
  table(
    ['model', 'precision', 'model MiB', 'peak step MiB', 'frozen MiB (f32 → f16)', 'logit error', 'ms/step'],
    rows.map((r) => [String(r.model), String(r.precision), mib(Number(r.model_gpu_bytes)), mib(Number(r.peak_step_gpu_bytes)), r.frozen_f32_bytes ? `${mib(Number(r.frozen_f32_bytes))} → ${mib(Number(r.frozen_f16_bytes))}` : '—', String(r.logit_error), String(r.ms_per_step)]),
    [false, false, true, true, false, true, true],
  ),
);
ctx.destroy();
process.exit(0);
