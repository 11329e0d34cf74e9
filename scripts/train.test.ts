/**
 * Proof of learning, run in CI: a tiny ViT trained from the command-line entry point on a
 * Fashion-MNIST subset (Debian's dataset-fashion-mnist) with every method. Each must end well
 * above chance (10 classes: 10%) with a falling loss, and write the files the CLI promises.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeModel } from '../src/models/makeModel';
import { writeCheckpoint } from './make-model';
import { parseTrainArgs, train } from './train';

const FMNIST = '/usr/share/datasets/fashion-mnist';
let dir: string;
let modelDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rankscope-learn-'));
  modelDir = join(dir, 'vit-tiny');
  await writeCheckpoint(modelDir, makeModel({ arch: 'vit', preset: 'tiny', seed: 0, labels: 10 }));
});

// Learning rates per method from a sweep on this set (40 steps, batch 32): adapters and the probe
// move few, small parameters and take larger rates than full fine-tuning. NOLA runs with 256
// bases instead of 1024 to keep CI fast on a software GPU.
const METHODS: Array<[string, string[]]> = [
  ['probe', ['--lr', '1e-1']],
  ['lora', ['--lr', '2e-2']],
  ['randlora', ['--lr', '1e-2']],
  ['vera', ['--lr', '2e-2']],
  ['nola', ['--lr', '2e-2', '--set', 'ka=256', '--set', 'kb=256']],
  ['full', ['--lr', '3e-3']],
];

describe('training a tiny ViT on Fashion-MNIST from the CLI', () => {
  it.each(METHODS)('%s learns well above chance and the loss falls', async (method, extra) => {
    const out = join(dir, method);
    const args = parseTrainArgs([
      '--model', modelDir, '--data', FMNIST, '--method', method, '--steps', '40', '--batch', '32',
      '--train-size', '2000', '--val-size', '200', '--eval-every', '1000', '--log-every', '10', '--seed', '1',
      '--targets', 'query,value', '--out', out, ...extra,
    ]);
    const summary = await train(args, () => {});
    const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const trainRows = lines.filter((l) => 'loss' in l);
    const evalRows = lines.filter((l) => 'val_accuracy' in l);
    expect(trainRows.map((r) => r.step)).toEqual([10, 20, 30, 40]);
    for (const r of trainRows) expect(Object.keys(r)).toEqual(expect.arrayContaining(['step', 'loss', 'lr']));
    expect(trainRows[3].loss).toBeLessThan(trainRows[0].loss);
    expect(evalRows.at(-1)).toMatchObject({ step: 40 });
    // 200 validation images: a binomial's standard error near 35% is about 3.4 points, so 25%
    // is many standard errors above the 10% of guessing.
    expect(summary.final_val_accuracy as number).toBeGreaterThan(0.25);
    const onDisk = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(onDisk).toMatchObject({ method, steps: 40 });
    for (const key of ['trainable_params', 'final_val_accuracy', 'seconds', 'peak_gpu_bytes']) expect(onDisk[key]).toBeGreaterThan(0);
    // End-of-run analysis of every targeted layer (2 blocks × query, value); the probe changes none.
    const layers = method === 'probe' ? 0 : 4;
    expect(onDisk.intruders_per_layer).toHaveLength(layers);
    expect(onDisk.layer_ranks).toHaveLength(layers);
    for (const l of onDisk.intruders_per_layer) {
      expect(l.topCosines).toHaveLength(l.k);
      for (const c of l.topCosines) expect(c).toBeGreaterThanOrEqual(0), expect(c).toBeLessThanOrEqual(1 + 1e-9);
    }
    expect(onDisk.intruders).toBe(onDisk.intruders_per_layer.reduce((n: number, l: { topCosines: number[] }) => n + l.topCosines.filter((c) => c < 0.5).length, 0));
    if (method === 'probe') expect(onDisk).toMatchObject({ intruders: 0, rank_numerical: 0, rank_effective: 0 });
    else expect(onDisk.rank_effective).toBeGreaterThan(0);
  }, 600_000);
});
