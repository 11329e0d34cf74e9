/**
 * Every method, through the trainer, leaves the buffer pool as it found it: after building a
 * model, two training steps (forward, backward, AdamW), an evaluation, a merge of every adapted
 * layer and release, the count of live pooled buffers is back at its baseline. A method whose
 * forward kept state the tape never released (NOLA's factors did) fails here.
 */
import { describe, expect, it } from 'vitest';
import { useGpu } from '../testing/gpu';
import { randU32 } from '../engine/random';
import { makeModel } from '../models/makeModel';
import { parseConfig } from '../models/spec';
import { VisionTransformer } from '../models/vision';
import { loadMethod, METHOD_IDS } from '../methods/registry';
import type { PackedImages } from './data';
import { Trainer } from './trainer';

const gpu = useGpu();

const SMALL: Record<string, Record<string, unknown>> = {
  lora: { r: 2 },
  randlora: { r: 4 },
  nola: { rank: 2, ka: 8, kb: 8 },
  vera: { r: 4 },
  dora: { r: 2 },
};

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

describe('buffer pool after a run', () => {
  it.each(METHOD_IDS)('%s returns every pooled buffer it took', async (id) => {
    const { ctx } = gpu();
    const made = makeModel({ arch: 'vit', preset: 'micro', seed: 1, labels: 3 });
    const spec = parseConfig(made.config, 'config.json', made.tensors.keys());
    await loadMethod(id);
    await ctx.flush();
    const baseline = ctx.pool.live;
    const model = new VisionTransformer(ctx, spec, made.tensors, { numLabels: 3, seed: 0 });
    const set = images();
    const idx = Array.from({ length: set.count }, (_, i) => i);
    const trainer = new Trainer(model, { train: set, trainIndices: idx, val: set, valIndices: idx }, { size: spec.imageSize, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, {
      method: id,
      methodConfig: SMALL[id],
      targets: ['query', 'value'],
      steps: 2,
      batchSize: 3,
      logEvery: 1,
      evalEvery: 100,
    });
    await trainer.trainStep();
    await trainer.trainStep();
    await trainer.evaluate();
    for (const [module, a] of trainer.adapters.layers) a.merge(model.param(`${module}.weight`)).release();
    trainer.release();
    model.release();
    await ctx.flush();
    expect(ctx.pool.live).toBe(baseline);
  });
});
