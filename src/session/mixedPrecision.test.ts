/**
 * Mixed precision on the shipped demo model (3 blocks, real Fashion-MNIST images): the startup
 * check stores the 18 frozen block linear weights in f16 with logits within the stated tolerance
 * of f32, the pool's bytes go down by what those weights saved, exports and W0 readers still see
 * the checkpoint's f32 values, and 10 LoRA steps follow the f32 run's losses step by step.
 * SwiftShader has no shader-f16, so these runs switch the setting on by hand (the packed-f16 path
 * needs no extension).
 */
import { describe, expect, it } from 'vitest';
import { loadCheckpointFrom, loadDatasetFolder } from '../io/node';
import { mergedTensors } from '../io/peft/exportMerged';
import { loadMethod } from '../methods/registry';
import { mixedPrecisionFromEnv } from '../gpu/node';
import { enableMixedPrecision, MIXED_PRECISION_TOLERANCE } from '../models/mixedPrecision';
import { observeLaunches, useGpu } from '../testing/gpu';
import { analyseLayers } from '../train/layerAnalysis';
import { Trainer, type MetricRecord, type TrainConfig } from '../train/trainer';
import { buildModel, normalisationFor, prepareData } from './prepare';

const gpu = useGpu();
const DEMO = 'public/models/rankscope-vit-fmnist5';

/**
 * Per-step loss tolerance of the mixed run against the f32 run: rounding the frozen weights to
 * f16 moves the demo's logits by about 10⁻³ of their scale, so losses near 1 differ by a few 10⁻³
 * at first and drift a little as the updates see slightly different gradients.
 */
const LOSS_TOLERANCE = 2e-3;

async function setup() {
  const { ctx } = gpu();
  ctx.checkEachLaunch = false;
  await loadMethod('lora');
  await loadMethod('dora');
  await loadMethod('randlora');
  const ckpt = await loadCheckpointFrom(DEMO);
  const ds = await loadDatasetFolder('public/datasets/fashion-mnist-heldout', { split: 'train' });
  const data = prepareData(ds, { valFraction: 0.2, seed: 0, trainLimit: 24, valLimit: 10 });
  const config: Partial<TrainConfig> & Pick<TrainConfig, 'method' | 'targets'> = {
    method: 'lora',
    methodConfig: { r: 4 },
    targets: ['query', 'value'],
    steps: 10,
    batchSize: 4,
    lr: 5e-3,
    warmupSteps: 2,
    logEvery: 1,
    evalEvery: 100,
    seed: 1,
  };
  const make = (mixed: boolean, over: Partial<TrainConfig> = {}) => {
    ctx.mixedPrecision = mixed;
    const model = buildModel(ctx, ckpt, data.classNames.length, 1);
    return { model, trainer: new Trainer(model, data, normalisationFor(model.spec, ckpt), { ...config, ...over }) };
  };
  return { ctx, ckpt, make };
}

describe('mixed precision (frozen weights in f16, f32 arithmetic)', () => {
  it('startup check on the demo model: logits within tolerance, 18 weights in f16, fewer pool bytes; exports read W0 in f32', async () => {
    const { ctx, ckpt, make } = await setup();
    await ctx.flush();
    const liveBefore = ctx.pool.live;
    const before = ctx.pool.inUseBytes;
    const { model, trainer } = make(true);
    const withF32 = ctx.pool.inUseBytes - before;
    const report = await trainer.applyPrecision();
    expect(report.mode).toBe('mixed');
    expect(report.message).toMatch(/^Precision: mixed\. 18 frozen linear weights are stored in f16/);
    const check = report.check!;
    expect(check.error).toBeGreaterThan(0); // the weights really were rounded
    expect(check.error).toBeLessThanOrEqual(MIXED_PRECISION_TOLERANCE);
    expect(model.f16Weights()).toHaveLength(18);
    expect(check.bytesF16 * 2).toBeLessThanOrEqual(check.bytesF32 + 18 * 4);
    // The model's buffers shrink by what the weights saved (up to the pool's bucket rounding),
    // and the f32 buffers are destroyed, not kept in a free list.
    await ctx.flush();
    const withF16 = ctx.pool.inUseBytes - before;
    console.log('startup check: logit error', check.error.toExponential(2), 'model bytes in the pool', withF32, '->', withF16);
    expect(withF32 - withF16).toBeGreaterThanOrEqual(check.bytesF32 - check.bytesF16 - 18 * 256);

    // Readers of W0 get the checkpoint's values exactly, and a merged export matches the f32 one.
    const name = 'vit.encoder.layer.0.attention.attention.query.weight';
    expect(model.param(name).dtype).toBe('f16');
    expect(await model.readF32(name)).toEqual(ckpt.tensors.get(name)!.data);
    const merged = await mergedTensors({ model, adapters: trainer.adapters } as Parameters<typeof mergedTensors>[0]);
    expect(merged.get(name)!.data).toEqual(ckpt.tensors.get(name)!.data);
    // Ranks and intruders read W0 through the same path (6 adapted layers: query and value × 3):
    // before training ΔW is exactly 0 (W0 in f32 on both sides), so no rank and no intruder.
    const analysis = await analyseLayers(trainer);
    expect(analysis.layer_ranks).toHaveLength(6);
    expect(analysis.rank_numerical).toBe(0);
    expect(analysis.intruders).toBe(0);
    trainer.release();
    model.release();

    // A tolerance nothing meets puts the weights back in f32 (the check's failure path).
    const again = make(true);
    const pixels = (await import('../engine/tensor')).Tensor.zeros(ctx, [2, 3, model.spec.imageSize, model.spec.imageSize]);
    const failed = await enableMixedPrecision(again.model, ['vit.encoder.layer.0.output.dense.weight'], pixels, -1);
    expect(failed.passed).toBe(false);
    expect(again.model.f16Weights()).toEqual([]);
    pixels.release();
    again.trainer.release();
    again.model.release();

    // DoRA reads W0 itself, and setting off means f32: both say so.
    const dora = make(true, { method: 'dora', methodConfig: { r: 2 } });
    const doraReport = await dora.trainer.applyPrecision();
    expect(doraReport.message).toMatch(/reads the frozen weights in f32/);
    // Asked for and not kept: the run says so in its notices.
    expect(doraReport.requested).toBe(true);
    dora.trainer.release();
    dora.model.release();
    const off = make(false);
    const offReport = await off.trainer.applyPrecision();
    expect(offReport.message).toMatch(/^Precision: f32 \(mixed precision off by default: this GPU has no shader-f16/);
    // f32 by the device's setting: no per-run notice (the GPU badge's dialog says it).
    expect(offReport.requested).toBe(false);
    off.trainer.release();
    off.model.release();
    // f16 storage, its check and its way back to f32 leave the pool as they found it.
    await ctx.flush();
    expect(ctx.pool.live).toBe(liveBefore);
    expect(mixedPrecisionFromEnv('1')).toBe(true);
    expect(mixedPrecisionFromEnv(' off ')).toBe(false);
    expect(mixedPrecisionFromEnv(undefined)).toBeUndefined();
    expect(() => mixedPrecisionFromEnv('maybe')).toThrow(/RANKSCOPE_MIXED_PRECISION must be 1 or 0/);
  });

  it(`10 LoRA steps: the mixed run's loss stays within ${LOSS_TOLERANCE} of the f32 run's at every step`, async () => {
    const { ctx, make } = await setup();
    const curve = async (mixed: boolean, over: Partial<TrainConfig> = {}) => {
      const { model, trainer } = make(mixed, over);
      const losses: number[] = [];
      let mode = '';
      await trainer.run({
        onMetric: (m: MetricRecord) => {
          if (m.kind === 'train') losses.push(m.loss);
        },
        onPrecision: (r) => (mode = r.mode),
      });
      trainer.release();
      model.release();
      return { losses, mode };
    };
    const f32 = await curve(false);
    const mixed = await curve(true);
    expect(f32.mode).toBe('f32');
    expect(mixed.mode).toBe('mixed');
    expect(mixed.losses).toHaveLength(10);
    // The run learns (the comparison is not between two flat lines)…
    expect(f32.losses[9]).toBeLessThan(f32.losses[0]);
    const diffs = mixed.losses.map((l, i) => Math.abs(l - f32.losses[i]));
    console.log('f32', f32.losses.map((l) => l.toFixed(4)).join(' '), '\nmixed', mixed.losses.map((l) => l.toFixed(4)).join(' '), '\nmax |Δ|', Math.max(...diffs).toExponential(2));
    // …and the mixed one follows it, yet is not the same run (f16 weights did change something).
    for (const d of diffs) expect(d).toBeLessThanOrEqual(LOSS_TOLERANCE);
    expect(Math.max(...diffs)).toBeGreaterThan(0);

    // RandLoRA on query and value takes the merged route (W + ΔW formed from the f16 W into f32),
    // so key's weight stays f16 beside two f32 ones and Q, K, V run as three GEMMs. Four steps.
    const randlora = { method: 'randlora', methodConfig: { r: 8 }, steps: 4 } as const;
    const rf32 = await curve(false, randlora);
    // Counts the ops launched: the merged route's GEMM, not ΔW beside W.
    const ops = new Map<string, number>();
    const rmixed = await observeLaunches(ctx, (k) => ops.set(k.op, (ops.get(k.op) ?? 0) + 1), () => curve(true, randlora));
    expect(rmixed.mode).toBe('mixed');
    expect(ops.get('randlora_merge')).toBeGreaterThanOrEqual(4 * 6);
    expect(ops.get('randlora_fwd_dense')).toBeUndefined();
    const rdiffs = rmixed.losses.map((l, i) => Math.abs(l - rf32.losses[i]));
    console.log('randlora f32', rf32.losses.map((l) => l.toFixed(4)).join(' '), '\nmixed', rmixed.losses.map((l) => l.toFixed(4)).join(' '));
    for (const d of rdiffs) expect(d).toBeLessThanOrEqual(LOSS_TOLERANCE);
    expect(Math.max(...rdiffs)).toBeGreaterThan(0);
  });
});
