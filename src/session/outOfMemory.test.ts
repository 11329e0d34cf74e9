/**
 * Out of GPU memory at a chosen batch: that run fails with a message that says what it needs and
 * what to try, its half-made step gives its memory back, and the runs queued after it go on. The
 * device's memory is made small with the pool's engine-side limit (SwiftShader's own is the
 * machine's RAM).
 */
import { describe, expect, it } from 'vitest';
import { useGpu } from '../testing/gpu';
import { makeModel } from '../models/makeModel';
import { loadDatasetFolder } from '../io/node';
import { generatedCheckpoint } from '../io/checkpoint';
import { Lab } from './lab';
import { prepareData } from './prepare';
import type { RunEvent, RunResult, RunSpec } from './run';
import { formatBytes } from '../gpu/errors';

const gpu = useGpu();

describe('Lab: out of memory at a chosen batch', () => {
  it('fails that run with what it needs and what to try, and the queued runs after it finish', async () => {
    const { ctx } = gpu();
    ctx.checkEachLaunch = false;
    const made = makeModel({ arch: 'vit', preset: 'tiny', seed: 2, labels: 10 });
    const ckpt = generatedCheckpoint(made, 'generated tiny ViT');
    const ds = await loadDatasetFolder('/usr/share/datasets/fashion-mnist', { split: 'test' });
    const results = new Map<string, RunResult>();
    const errors = new Map<string, string>();
    const states = new Map<string, string>();
    const lab = new Lab(ctx, (e: RunEvent) => {
      if (e.type === 'result') results.set(e.runId, e.result);
      if (e.type === 'state') {
        states.set(e.runId, e.state);
        if (e.error) errors.set(e.runId, e.error);
      }
    });
    lab.setModel(ckpt);
    lab.setData(prepareData(ds, { valFraction: 0.2, seed: 0, trainLimit: 200, valLimit: 10 }));
    const run = (id: string, batchSize: number): RunSpec => ({
      id,
      name: id,
      method: 'lora',
      targets: ['query', 'value'],
      train: { steps: 1, batchSize, evalEvery: 1, seed: 1 },
    });

    // Calibrate: what a batch-2 run takes on this model, with no limit.
    lab.enqueue(run('calibrate', 2));
    await lab.idle();
    const small = results.get('calibrate')!.peak_gpu_bytes;
    expect(small).toBeGreaterThan(0);

    const liveBefore = ctx.pool.live;
    ctx.pool.limitBytes = 2 * small;
    try {
      lab.enqueue(run('big', 8), run('after', 2), run('after-again', 2));
      await lab.idle();
    } finally {
      ctx.pool.limitBytes = undefined;
    }
    expect(states.get('big')).toBe('failed');
    const message = errors.get('big') ?? '';
    expect(message).toMatch(/this run needs about [\d.]+ [KMG]B at batch 8; your GPU allowed [\d.]+ [KMG]B; try batch 4 or gradient accumulation/);
    // What it allowed is the limit; what it needs is past it.
    expect(message).toContain(`your GPU allowed ${formatBytes(2 * small)};`);
    for (const id of ['after', 'after-again']) {
      expect(states.get(id), errors.get(id)).toBe('done');
      expect(results.get(id)!.peak_gpu_bytes).toBeLessThanOrEqual(2 * small);
    }
    // Nothing the failed step took is still counted as handed out.
    expect(ctx.pool.live).toBe(liveBefore);
  }, 120_000);
});
