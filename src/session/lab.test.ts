import { describe, expect, it } from 'vitest';
import { useGpu } from '../testing/gpu';
import { makeModel } from '../models/makeModel';
import { loadDatasetFolder } from '../io/node';
import { generatedCheckpoint } from '../io/checkpoint';
import { Lab } from './lab';
import { prepareData } from './prepare';
import type { RunEvent, RunResult } from './run';
import { totalIntruders } from '../train/intruders';
import { ensembleOnLab } from './ensembleRuns';
import { shownRows, THUMBNAIL_SIDE } from './ensembleImages';
import { thumbnailOf } from '../io/datasets/thumbnails';

const gpu = useGpu();

async function fixture() {
  const made = makeModel({ arch: 'vit', preset: 'tiny', seed: 2, labels: 10 });
  const ckpt = generatedCheckpoint(made, 'generated tiny ViT');
  const ds = await loadDatasetFolder('/usr/share/datasets/fashion-mnist', { split: 'test' });
  const data = prepareData(ds, { valFraction: 0.2, seed: 0, trainLimit: 80, valLimit: 40 });
  return { ckpt, data };
}

describe('Lab: queued runs in one process', () => {
  it('runs LoRA then RandLoRA on the same split, reports metrics and spectra, and pauses and resumes', async () => {
    const { ctx } = gpu();
    ctx.checkEachLaunch = false;
    const { ckpt, data } = await fixture();
    const events: RunEvent[] = [];
    let lab!: Lab;
    let paused = false;
    lab = new Lab(ctx, (e) => {
      events.push(e);
      // Pause LoRA at its first logged step, and resume it a moment later.
      if (e.type === 'metric' && e.runId === 'lora' && !paused) {
        paused = true;
        lab.pause('lora');
        setTimeout(() => {
          expect(lab.state('lora')).toBe('paused');
          lab.resume('lora');
        }, 50);
      }
    });
    lab.setModel(ckpt);
    lab.setData(data);
    const train = { steps: 6, batchSize: 8, lr: 1e-2, logEvery: 2, evalEvery: 3, seed: 1 };
    lab.enqueue(
      { id: 'lora', name: 'LoRA', method: 'lora', methodConfig: { r: 2 }, targets: ['query', 'value'], train, rankEvery: 3 },
      { id: 'randlora', name: 'RandLoRA', method: 'randlora', methodConfig: { r: 4, alpha: 16 }, targets: ['query', 'value'], train, rankEvery: 3 },
    );
    await lab.idle();
    const states = (id: string) => events.filter((e) => e.type === 'state' && e.runId === id).map((e) => (e as { state: string }).state);
    expect(states('lora')).toEqual(['queued', 'loading', 'training', 'paused', 'training', 'done']);
    expect(states('randlora')).toEqual(['queued', 'loading', 'training', 'done']);
    // RandLoRA waited for LoRA: its loading came after LoRA was done.
    const idx = (pred: (e: RunEvent) => boolean) => events.findIndex(pred);
    expect(idx((e) => e.type === 'state' && e.runId === 'randlora' && e.state === 'loading')).toBeGreaterThan(
      idx((e) => e.type === 'state' && e.runId === 'lora' && e.state === 'done'),
    );
    for (const id of ['lora', 'randlora']) {
      const metrics = events.filter((e) => e.type === 'metric' && e.runId === id);
      expect(metrics.filter((e) => e.type === 'metric' && e.metric.kind === 'train')).toHaveLength(3);
      expect(metrics.filter((e) => e.type === 'metric' && e.metric.kind === 'eval').length).toBeGreaterThanOrEqual(2);
      const result = events.find((e) => e.type === 'result' && e.runId === id);
      expect(result && result.type === 'result' && result.result.perClassAccuracy).toHaveLength(10);
    }
    const lastSpectrum = (id: string) => {
      const s = events.filter((e) => e.type === 'spectrum' && e.runId === id);
      const last = s[s.length - 1];
      return last && last.type === 'spectrum' ? last.spectrum : undefined;
    };
    // The point of the product: LoRA's update stops at rank r, RandLoRA's reaches the layer's full rank.
    expect(lastSpectrum('lora')!.numericalRank).toBeLessThanOrEqual(2);
    expect(lastSpectrum('lora')!.numericalRank).toBeGreaterThan(0);
    // RandLoRA's bases span all 32 directions; after six steps the weakest few may still sit under
    // the 1e-4 floor, but the update is far beyond the rank r = 4 of any one basis pair.
    expect(lastSpectrum('randlora')!.numericalRank).toBeGreaterThanOrEqual(24);
    // The end-of-run analysis covers every targeted layer (2 blocks × query, value): LoRA's ranks stay ≤ r.
    const result = (id: string) => (events.find((e) => e.type === 'result' && e.runId === id) as { result: RunResult }).result;
    expect(result('lora').intruders_per_layer).toHaveLength(4);
    expect(result('lora').layer_ranks!.every((l) => l.numerical >= 1 && l.numerical <= 2)).toBe(true);
    expect(result('lora').intruders).toBe(totalIntruders(result('lora').intruders_per_layer!));
    expect(result('randlora').rank_numerical).toBeGreaterThanOrEqual(24);
    // Every run gave its GPU memory back (the analysis included): only the pool's idle buffers remain.
    expect(ctx.pool.inUseBytes).toBe(0);
  });

  it('ends a diverging run as diverged with its message, and the queue goes on', async () => {
    const { ctx } = gpu();
    ctx.checkEachLaunch = false;
    const { ckpt, data } = await fixture();
    const events: RunEvent[] = [];
    const lab = new Lab(ctx, (e) => events.push(e));
    lab.setModel(ckpt);
    lab.setData(data);
    const train = { steps: 12, batchSize: 8, logEvery: 2, evalEvery: 100, seed: 1, warmupSteps: 0, clipNorm: 0 };
    lab.enqueue(
      { id: 'wild', name: 'full, lr 1e6', method: 'full', targets: ['query', 'value'], train: { ...train, lr: 1e6 } },
      { id: 'calm', name: 'probe', method: 'probe', targets: [], train: { ...train, steps: 2, lr: 1e-2 } },
    );
    await lab.idle();
    const last = (id: string) => events.filter((e) => e.type === 'state' && e.runId === id).at(-1) as Extract<RunEvent, { type: 'state' }>;
    expect(last('wild').state).toBe('diverged');
    expect(last('wild').error).toMatch(/diverged at step \d+/);
    const result = events.find((e) => e.type === 'result' && e.runId === 'wild');
    expect(result && result.type === 'result' && result.result.status).toBe('diverged');
    expect(last('calm').state).toBe('done');
    expect(ctx.pool.inUseBytes).toBe(0);
  });

  it('queues an ensemble of finished runs behind the runs ahead of it, and before those queued after it', async () => {
    const { ctx } = gpu();
    ctx.checkEachLaunch = false;
    const { ckpt, data } = await fixture();
    const events: RunEvent[] = [];
    const order: string[] = [];
    const lab = new Lab(ctx, (e) => {
      events.push(e);
      if (e.type === 'state' && (e.state === 'loading' || e.state === 'done')) order.push(`${e.runId}:${e.state}`);
    });
    lab.setModel(ckpt);
    lab.setData(data);
    const train = { steps: 2, batchSize: 8, lr: 1e-2, logEvery: 1, evalEvery: 100, seed: 1 };
    lab.enqueue(
      { id: 'probe', name: 'probe', method: 'probe', targets: [], train },
      { id: 'lora', name: 'LoRA', method: 'lora', methodConfig: { r: 2 }, targets: ['query', 'value'], train: { ...train, seed: 2 } },
    );
    const merged = (id: string) => {
      const e = events.find((x) => x.type === 'exports' && x.runId === id);
      return (e && e.type === 'exports' && e.files.merged) || new Uint8Array();
    };
    const ensemble = lab.exclusive(async (inputs) => {
      order.push('ensemble:start');
      const out = await ensembleOnLab(inputs, {
        members: ['probe', 'lora'].map((id) => ({ runId: id, name: id, merged: merged(id) })),
        controller: { width: 4, steps: 5, lr: 1e-2, weightDecay: 0, batch: 0, seed: 0 },
        kShot: 2,
        batchSize: 16,
      });
      order.push('ensemble:end');
      return out;
    });
    const refused = lab.exclusive((inputs) => ensembleOnLab(inputs, { members: [], controller: { width: 4, steps: 1, lr: 1e-2, weightDecay: 0, batch: 0, seed: 0 }, batchSize: 8 }));
    lab.enqueue({ id: 'later', name: 'later', method: 'probe', targets: [], train: { ...train, steps: 1 } });
    const out = await ensemble;
    await expect(refused).rejects.toThrow(/at least two finished runs to ensemble \(0 picked\)/);
    await lab.idle();
    expect(order).toEqual(['probe:loading', 'probe:done', 'lora:loading', 'lora:done', 'ensemble:start', 'ensemble:end', 'later:loading', 'later:done']);
    // Each member, rebuilt from its merged zip, scores what its run scored on the same validation images (the run's is f32).
    const final = (id: string) => (events.find((e) => e.type === 'result' && e.runId === id) as { result: RunResult }).result.final_val_accuracy;
    expect(out.members.map((m) => m.accuracy)).toEqual([final('probe'), final('lora')].map((a) => expect.closeTo(a, 6)));
    expect(out.valImages).toBe(40);
    expect(out.trainImages).toBe(20);
    expect(out.oracle).toBeGreaterThanOrEqual(Math.max(...out.members.map((m) => m.accuracy)));
    expect(out.perImage.temperatures).toHaveLength(40);
    // Thumbnails of the first 24 validation rows and the later ones where the members disagree; row n
    // is image valIndices[n] of the lab's split (its label is the row's label), drawn small.
    expect(out.thumbnails!.map((t) => t.row)).toEqual(shownRows(out.perImage.memberPredictions, 40));
    expect(out.thumbnails!.length).toBeGreaterThanOrEqual(24);
    for (const t of out.thumbnails!) {
      const image = data.valIndices[t.row];
      expect(out.perImage.labels[t.row]).toBe(data.val.labels[image]);
      expect(Math.max(t.width, t.height)).toBeLessThanOrEqual(THUMBNAIL_SIDE);
      expect(t.rgba).toEqual(thumbnailOf(data.val.images[image]).rgba);
    }
    expect(out.zip.byteLength).toBeGreaterThan(0);
    expect(ctx.pool.inUseBytes).toBe(0);
  });

  it('refuses runs before a model and data are loaded, with a message saying what to do', () => {
    const { ctx } = gpu();
    const lab = new Lab(ctx, () => {});
    expect(() => lab.enqueue({ id: 'x', name: 'x', method: 'lora', targets: ['query'], train: {} })).toThrow(/Load a model/);
  });
});
