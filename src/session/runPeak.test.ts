import { describe, expect, it } from 'vitest';
import { useGpu } from '../testing/gpu';
import { makeModel } from '../models/makeModel';
import { loadDatasetFolder } from '../io/node';
import { generatedCheckpoint } from '../io/checkpoint';
import { Lab } from './lab';
import { prepareData } from './prepare';
import type { RunEvent, RunResult } from './run';

const gpu = useGpu();

describe('Lab: per-run peak memory', () => {
  it("a small run after a big one reports its own peak, not the big run's", async () => {
    const { ctx } = gpu();
    ctx.checkEachLaunch = false;
    const made = makeModel({ arch: 'vit', preset: 'tiny', seed: 2, labels: 10 });
    const ckpt = generatedCheckpoint(made, 'generated tiny ViT');
    const ds = await loadDatasetFolder('/usr/share/datasets/fashion-mnist', { split: 'test' });
    const results = new Map<string, RunResult>();
    const lab = new Lab(ctx, (e: RunEvent) => {
      if (e.type === 'result') results.set(e.runId, e.result);
    });
    lab.setModel(ckpt);
    lab.setData(prepareData(ds, { valFraction: 0.2, seed: 0, trainLimit: 40, valLimit: 20 }));
    lab.enqueue(
      { id: 'full', name: 'full', method: 'full', targets: ['query'], train: { steps: 2, batchSize: 16, evalEvery: 2, seed: 1 } },
      { id: 'probe', name: 'probe', method: 'probe', targets: [], train: { steps: 2, batchSize: 2, evalEvery: 2, seed: 1 } },
    );
    await lab.idle();
    const full = results.get('full')!.peak_gpu_bytes;
    const probe = results.get('probe')!.peak_gpu_bytes;
    expect(probe).toBeGreaterThan(0);
    expect(probe).toBeLessThan(full);
    // Full fine-tuning's ΔW is the drift from a copy of W0 taken before training: both query layers are analysed.
    expect(results.get('full')!.intruders_per_layer).toHaveLength(2);
    expect(results.get('full')!.rank_numerical).toBeGreaterThan(0);
    expect(results.get('probe')!.intruders_per_layer).toEqual([]);
  });
});
