/**
 * The CLI refuses numbers it cannot train with before loading anything, and a diverging run
 * stops with a message, exit code 3, "status": "diverged" and exports that hold no NaN.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { readSafetensors } from '../src/io/safetensors';
import { main, parseTrainArgs } from './train';

const MODEL = 'public/models/rankscope-vit-fmnist5';
const DATA = 'public/datasets/fashion-mnist-heldout';
const BASE = ['--model', MODEL, '--data', DATA, '--method', 'lora'];

describe('numbers from the command line are range-checked', () => {
  it.each([
    [['--lr', '-1'], /--lr must be a number greater than 0, got -1/],
    [['--lr', '0'], /--lr must be a number greater than 0/],
    [['--k-shot', '0'], /--k-shot must be a whole number at least 1, got 0/],
    [["--steps", "2.5"], /--steps must be a whole number at least 0, got 2.5/],
    [['--batch', '0'], /--batch must be a whole number at least 1/],
    [['--val-fraction', '1'], /--val-fraction must be a number greater than 0 and less than 1, got 1/],
    [['--label-smoothing', '1'], /--label-smoothing must be .* less than 1/],
    [['--rank', '0'], /--rank must be a whole number at least 1/],
    [['--seed', '-3'], /--seed must be a whole number at least 0/],
    [['--warmup', '-1'], /--warmup must be a whole number at least 0/],
  ])('%j is refused', (extra, message) => {
    expect(() => parseTrainArgs([...BASE, ...extra])).toThrow(message);
  });

  it('accepts the edges that make sense', () => {
    const a = parseTrainArgs([...BASE, '--warmup', '0', '--clip', '0', '--weight-decay', '0', '--k-shot', '1', '--lr', '1e-6']);
    expect(a.train).toMatchObject({ warmupSteps: 0, clipNorm: 0, weightDecay: 0, lr: 1e-6 });
    expect(a.kShot).toBe(1);
  });
});

describe('a diverging run', () => {
  it('stops as diverged, exits 3, keeps finite weights and says what to try', async () => {
    const out = await mkdtemp(join(tmpdir(), 'rankscope-diverge-'));
    const errors: string[] = [];
    const err = vi.spyOn(console, 'error').mockImplementation((m: unknown) => void errors.push(String(m)));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    let code: number;
    try {
      code = await main([
        '--model', MODEL, '--data', DATA, '--method', 'full', '--lr', '1e6', '--warmup', '0', '--clip', '0',
        '--steps', '40', '--batch', '8', '--train-size', '40', '--val-size', '10', '--log-every', '2',
        '--eval-every', '1000', '--out', out,
      ]);
    } finally {
      err.mockRestore();
      log.mockRestore();
    }
    expect(code).toBe(3);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('diverged');
    expect(summary.divergence.step).toBeGreaterThanOrEqual(3);
    // It stopped soon after diverging instead of running all 40 steps.
    expect(summary.steps).toBeLessThan(40);
    expect(summary.divergence.message).toMatch(/diverged at step \d+.*learning rate 1000000.*Try a learning rate about 10 times smaller \(100000\)/);
    expect(errors.join('\n')).toMatch(/diverged at step/);
    const merged = readSafetensors(new Uint8Array(await readFile(join(out, 'merged', 'model.safetensors'))), { fileName: 'model.safetensors' });
    for (const [name, t] of merged.tensors) {
      expect(t.data.every(Number.isFinite), `${name} is finite`).toBe(true);
    }
  }, 300_000);
});
