/**
 * A trainer with GEMM autotuning on: it loads nothing (empty store), meets the model's shape
 * classes in step 1, tunes them between steps 1 and 2 (reported through onAutotune, within the
 * budget rule), and ends with exactly the weights a run with tuning off reaches — tilings change
 * speed, not sums.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useGpu } from '../testing/gpu';
import { randU32 } from '../engine/random';
import { makeModel } from '../models/makeModel';
import { parseConfig } from '../models/spec';
import { VisionTransformer } from '../models/vision';
import { loadMethod } from '../methods/registry';
import { FileTuningStore } from '../engine/tuning/fileTuningStore';
import { disableAutotune, enableAutotune, tuningSummary, type AutotuneReport } from '../engine/tuning/matmulTuner';
import { tilingTable } from '../engine/ops/matmulTiling';
import type { PackedImages } from './data';
import { Trainer } from './trainer';

const gpu = useGpu();
const dir = mkdtempSync(join(tmpdir(), 'rankscope-tune-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function images(): PackedImages {
  const count = 6;
  return {
    count,
    channels: 1,
    images: Array.from({ length: count }, (_, k) => ({
      data: Uint8Array.from({ length: 144 }, (_, i) => randU32(5, 3, k * 144 + i) & 0xff),
      width: 12,
      height: 12,
      channels: 1,
    })),
    labels: Int32Array.from({ length: count }, (_, i) => i % 3),
    classNames: ['a', 'b', 'c'],
  };
}

async function train(onAutotune?: (r: AutotuneReport) => void): Promise<Float32Array[]> {
  const { ctx } = gpu();
  const made = makeModel({ arch: 'vit', preset: 'micro', seed: 1, labels: 3 });
  const spec = parseConfig(made.config, 'config.json', made.tensors.keys());
  await loadMethod('lora');
  const model = new VisionTransformer(ctx, spec, made.tensors, { numLabels: 3, seed: 0 });
  const set = images();
  const idx = Array.from({ length: set.count }, (_, i) => i);
  const trainer = new Trainer(model, { train: set, trainIndices: idx, val: set, valIndices: idx }, { size: spec.imageSize, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, {
    method: 'lora',
    methodConfig: { r: 2 },
    targets: ['query', 'value'],
    steps: 3,
    batchSize: 3,
    logEvery: 1,
    evalEvery: 100,
  });
  await trainer.run({ onAutotune });
  const weights = await Promise.all(trainer.trainables.map((t) => t.tensor.read()));
  trainer.release();
  model.release();
  return weights;
}

describe('trainer with autotuning on', () => {
  it('tunes between steps 1 and 2, reports it, and trains to the same bits as with tuning off', async () => {
    const { ctx } = gpu();
    const off = await train();
    enableAutotune(ctx, { store: new FileTuningStore(join(dir, 'gemm-tuning.json')), budgetMs: 1500 });
    const reports: AutotuneReport[] = [];
    const on = await train((r) => reports.push(r));
    expect(reports).toHaveLength(1);
    const [r] = reports;
    expect(r.afterStep).toBe(1);
    const summary = tuningSummary(ctx);
    // Every class step 1 met was measured or deferred by the budget (on SwiftShader one pipeline
    // takes about a second to compile, so a 1.5 s budget times only a few tilings); the tuner
    // made progress, and stopped near its budget (one tiling past it at most).
    expect(r.measured + r.deferred).toBe(summary.classes.length);
    expect(summary.classes.length).toBeGreaterThanOrEqual(3);
    expect(summary.classes.some((c) => c.timings.length > 0)).toBe(true);
    expect(summary.classes.filter((c) => c.source === 'measured')).toHaveLength(r.measured);
    expect(r.spentMs).toBeLessThan(1500 + 10_000);
    expect(on).toHaveLength(off.length);
    on.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(off[i].buffer)), `trainable ${i}`).toBe(true));

    // The budget may have tuned few classes; put a non-default tiling on every class the run met
    // (the one SwiftShader picks most) and train again: still the same bits.
    const table = tilingTable(ctx);
    for (const cls of table.seen!.keys()) table.chosen.set(cls, { wgX: 4, wgY: 4, tk: 16 });
    expect(table.chosen.size).toBe(summary.classes.length);
    const forced = await train();
    forced.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(off[i].buffer)), `trainable ${i} (4x4k16 everywhere)`).toBe(true));
    disableAutotune(ctx, 'test');
  });
});
