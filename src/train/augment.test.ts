import { describe, expect, it } from 'vitest';
import { useGpu } from '../testing/gpu';
import { randU32 } from '../engine/random';
import { makeModel } from '../models/makeModel';
import { parseConfig } from '../models/spec';
import { VisionTransformer } from '../models/vision';
import type { PackedImages } from './data';
import { loadMethod } from '../methods/registry';
import { Trainer, type MetricRecord, type TrainConfig } from './trainer';

const gpu = useGpu();

/** 24 random 20×20 grey images in 3 classes. */
function images(): PackedImages {
  const count = 24;
  return {
    count,
    channels: 1,
    images: Array.from({ length: count }, (_, k) => ({
      data: Uint8Array.from({ length: 400 }, (_, i) => randU32(3, 3, k * 400 + i) & 0xff),
      width: 20,
      height: 20,
      channels: 1,
    })),
    labels: Int32Array.from({ length: count }, (_, i) => i % 3),
    classNames: ['a', 'b', 'c'],
  };
}

async function run(augment: TrainConfig['augment']) {
  const { ctx } = gpu();
  const made = makeModel({ arch: 'vit', preset: 'micro', seed: 1, labels: 3 });
  const spec = parseConfig(made.config, 'config.json', made.tensors.keys());
  const model = new VisionTransformer(ctx, spec, made.tensors, { numLabels: 3, seed: 0 });
  const set = images();
  const idx = Array.from({ length: set.count }, (_, i) => i);
  const norm = { size: spec.imageSize, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } as const;
  // lr = 0: the weights never move, so any difference in loss comes from the inputs alone.
  await loadMethod('probe');
  const trainer = new Trainer(model, { train: set, trainIndices: idx, val: set, valIndices: idx }, norm, {
    method: 'probe',
    targets: [],
    steps: 2,
    batchSize: 8,
    lr: 0,
    warmupSteps: 0,
    logEvery: 1,
    evalEvery: 100,
    augment,
  });
  const metrics: MetricRecord[] = [];
  await trainer.trainStep({ onMetric: (m) => metrics.push(m) });
  await trainer.trainStep({ onMetric: (m) => metrics.push(m) });
  const evaluation = await trainer.evaluate();
  trainer.release();
  model.release();
  return { losses: metrics.map((m) => (m.kind === 'train' ? m.loss : NaN)), evaluation };
}

describe('Trainer augmentation', () => {
  it('augments training batches (TrainConfig.augment) and never evaluation batches', async () => {
    const plain = await run(undefined);
    const augmented = await run({ crop: { scale: [0.3, 0.6], ratio: [0.75, 1.33] }, flip: true });
    const again = await run({ crop: { scale: [0.3, 0.6], ratio: [0.75, 1.33] }, flip: true });
    expect(augmented.losses.every(Number.isFinite)).toBe(true);
    // Same weights, same batches, other pixels: the training loss differs…
    expect(Math.abs(augmented.losses[0] - plain.losses[0])).toBeGreaterThan(1e-4);
    // …reproducibly for one seed…
    expect(again.losses).toEqual(augmented.losses);
    // …while evaluation sees the plain images: identical results.
    expect(augmented.evaluation).toEqual(plain.evaluation);
  });
});
