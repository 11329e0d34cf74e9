/**
 * The page's composition path under Node: two short runs in a lab, then composeOnLab through
 * Lab.exclusive with the runs' merged zips, as the worker does. A limit below the estimate is
 * refused with the estimate's message before anything trains; the composed model comes back as a
 * zip that loads as a Hugging Face checkpoint, and composition.json names the runs.
 */
import { describe, expect, it } from 'vitest';
import { useGpu } from '../testing/gpu';
import { makeModel } from '../models/makeModel';
import { loadDatasetFolder } from '../io/node';
import { generatedCheckpoint, loadCheckpoint } from '../io/checkpoint';
import { ZipSource } from '../io/datasets/zip';
import { Lab } from './lab';
import { prepareData } from './prepare';
import type { RunEvent } from './run';
import { composeEstimateOnLab, composeOnLab } from './composeOnLab';
import { COMPOSE_DEFAULTS } from './compose';
import type { ComposeRequest } from './composeTypes';

const gpu = useGpu();

describe('composeOnLab', () => {
  it('refuses past the limit with the estimate, then composes two runs and exports a loadable checkpoint', async () => {
    const { ctx } = gpu();
    ctx.checkEachLaunch = false;
    const ckpt = generatedCheckpoint(makeModel({ arch: 'vit', preset: 'tiny', seed: 2, labels: 10 }), 'generated tiny ViT');
    const ds = await loadDatasetFolder('/usr/share/datasets/fashion-mnist', { split: 'test' });
    const data = prepareData(ds, { valFraction: 0.2, seed: 0, trainLimit: 40, valLimit: 20 });
    const events: RunEvent[] = [];
    const lab = new Lab(ctx, (e) => events.push(e));
    lab.setModel(ckpt, 'tiny-vit');
    lab.setData(data);
    const train = { steps: 2, batchSize: 8, lr: 1e-2, logEvery: 1, evalEvery: 100, seed: 1 };
    lab.enqueue(
      { id: 'lora', name: 'LoRA', method: 'lora', methodConfig: { r: 2 }, targets: ['query', 'value'], train },
      { id: 'full', name: 'Full', method: 'full', targets: ['query', 'value'], train: { ...train, lr: 1e-3 } },
    );
    await lab.idle();
    const merged = (id: string) => {
      const e = events.find((x) => x.type === 'exports' && x.runId === id);
      return (e && e.type === 'exports' && e.files.merged) || new Uint8Array();
    };
    const req = (limitBytes: number): ComposeRequest => ({
      members: [
        { runId: 'lora', name: 'LoRA', merged: merged('lora'), method: 'lora' },
        { runId: 'full', name: 'Full', merged: merged('full'), method: 'full' },
      ],
      settings: { ...COMPOSE_DEFAULTS, steps: 2, batchSize: 8 },
      kShot: 2,
      limitBytes,
    });
    const estimate = await composeEstimateOnLab(ckpt, req(2 ** 32));
    expect(estimate.fits).toBe(true);
    expect(estimate.taskVectorBytes).toBeGreaterThan(0);
    const small = Math.floor(estimate.totalBytes / 2);
    await expect(lab.exclusive((inputs) => composeOnLab(inputs, req(small)))).rejects.toThrow(/limit is .*MiB/);
    const progress: number[] = [];
    const out = await lab.exclusive((inputs) => composeOnLab(inputs, req(2 ** 32), (p) => p.step !== undefined && progress.push(p.step)));
    expect(progress.length).toBeGreaterThan(0);
    expect(out.trainImages).toBe(20);
    expect(out.valImages).toBe(20);
    expect(out.coefficients.taskVectors).toEqual(['LoRA', 'Full']);
    expect(out.coefficients.values).toHaveLength(2);
    for (const t of out.coefficients.values) expect(t).toHaveLength(out.coefficients.blocks.length);
    expect(out.members.map((m) => m.runId)).toEqual(['lora', 'full']);
    for (const a of [out.finalValAccuracy, out.baseAccuracy, out.sumAccuracy]) expect(a).toBeGreaterThanOrEqual(0);
    const composition = JSON.parse(new TextDecoder().decode(out.composition));
    expect(composition.members.map((m: { run: string }) => m.run)).toEqual(['LoRA', 'Full']);
    expect(composition.members[0].fingerprint).toMatch(/^sha256:[0-9a-f]{64} /);
    const back = await loadCheckpoint(new ZipSource(out.merged!, 'composed.zip'));
    expect(back.tensors.get('classifier.weight')!.shape).toEqual([10, ckpt.tensors.get('vit.embeddings.cls_token')!.shape[2]]);
    expect(ctx.pool.inUseBytes).toBe(0);
  });
});
