/**
 * A run stopped at step k, saved to a checkpoint file and restored into a fresh model and trainer
 * continues exactly as if it had never stopped: its losses from step k+1 on, its final weights
 * and its AdamW moments equal those of the uninterrupted run with the same seed.
 */
import { describe, expect, it } from 'vitest';
import { generatedCheckpoint } from '../io/checkpoint';
import { loadDatasetFolder } from '../io/node';
import { makeModel } from '../models/makeModel';
import { loadMethod } from '../methods/registry';
import { DEFAULT_CROP } from '../engine/ops/preprocess';
import { useGpu } from '../testing/gpu';
import { Trainer, type MetricRecord, type TrainConfig } from '../train/trainer';
import { decodeCheckpoint, encodeCheckpoint } from './checkpointFile';
import { buildModel, normalisationFor, prepareData } from './prepare';

const gpu = useGpu();

describe('resume from a checkpoint', () => {
  it.each([
    ['lora', { r: 2 }],
    ['full', {}],
  ] as const)('%s: losses after the resume equal the uninterrupted run', async (method, methodConfig) => {
    const { ctx } = gpu();
    ctx.checkEachLaunch = false;
    await loadMethod(method);
    const ckpt = generatedCheckpoint(makeModel({ arch: 'vit', preset: 'tiny', seed: 4, labels: 10 }), 'tiny');
    const ds = await loadDatasetFolder('public/datasets/fashion-mnist-heldout', { split: 'train' });
    // 20 training images and batch 8: the sampler crosses an epoch boundary before and after the cut.
    const data = prepareData(ds, { valFraction: 0.2, seed: 0, trainLimit: 20, valLimit: 10 });
    const config: Partial<TrainConfig> & Pick<TrainConfig, 'method' | 'targets'> = {
      method,
      methodConfig,
      targets: ['query', 'value'],
      steps: 6,
      batchSize: 8,
      lr: 1e-2,
      warmupSteps: 3,
      logEvery: 1,
      evalEvery: 100,
      seed: 3,
      augment: { crop: DEFAULT_CROP, flip: true },
    };
    const trainer = () => {
      const model = buildModel(ctx, ckpt, data.classNames.length, 3);
      return { model, t: new Trainer(model, data, normalisationFor(model.spec, ckpt), config) };
    };
    const lossesOf = (into: Map<number, number>) => (m: MetricRecord) => {
      if (m.kind === 'train') into.set(m.step, m.loss);
    };

    const whole = new Map<number, number>();
    const a = trainer();
    await a.t.run({ onMetric: lossesOf(whole) });
    const endA = await a.t.saveState();

    const first = new Map<number, number>();
    const b = trainer();
    await b.t.run({ onMetric: lossesOf(first), shouldStop: () => b.t.currentStep >= 3 });
    const bytes = encodeCheckpoint(await b.t.saveState(), { note: 'kept' });
    b.t.release();
    b.model.release();

    const decoded = decodeCheckpoint(bytes, 'state.safetensors');
    expect(decoded.extra).toEqual({ note: 'kept' });
    expect(decoded.state.step).toBe(3);
    const rest = new Map<number, number>();
    const c = trainer();
    c.t.restoreState(decoded.state);
    const summary = await c.t.run({ onMetric: lossesOf(rest) });
    expect(summary.steps).toBe(6);
    expect([...rest.keys()]).toEqual([4, 5, 6]);
    for (let s = 1; s <= 3; s++) expect(first.get(s), `step ${s}`).toBe(whole.get(s));
    // Same kernels on the same inputs in the same order: equal to the last bit, not just closely.
    for (let s = 4; s <= 6; s++) expect(rest.get(s), `step ${s}`).toBe(whole.get(s));
    const endC = await c.t.saveState();
    for (const [name, v] of endA.tensors) expect(Array.from(endC.tensors.get(name)!), name).toEqual(Array.from(v));

    // A checkpoint of another method does not restore into this run.
    const other = trainer();
    const wrong = { ...decoded.state, tensors: new Map([...decoded.state.tensors].filter(([k]) => !k.includes('lora') && !k.includes('embeddings'))) };
    expect(() => other.t.restoreState(wrong)).toThrow(/the checkpoint has no tensor ".*": it was saved by another method or settings/);
    for (const x of [a, c, other]) {
      x.t.release();
      x.model.release();
    }
  }, 180_000);
});
