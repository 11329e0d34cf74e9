/**
 * The study CLI end to end, kept cheap for CI: a tiny ViT, the built-in Fashion-MNIST mini set
 * (4-shot, 20 validation images), 2 methods × 2 budgets × 2 seeds, 2 steps each. Checks the files
 * and rows, that each achieved count is the closest any setting gets to its budget, that the
 * intruder cosines match a float64 recomputation from the exported merged weights, and that a
 * second run resumes: finished runs are skipped untouched, a half-written one is redone.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../src/io/safetensors';
import { methodById } from '../src/methods/registry';
import { makeModel } from '../src/models/makeModel';
import { studyShape } from '../src/study/plan';
import type { StudyRow } from '../src/study/types';
import { layerIntruders } from '../src/train/intruders';
import { writeCheckpoint } from './make-model';
import { parseStudyArgs, runFolder, study } from './study';

const DATA = 'public/datasets/fashion-mnist-mini';
let dir: string;
let modelDir: string;
const made = makeModel({ arch: 'vit', preset: 'tiny', seed: 3, labels: 10 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rankscope-study-'));
  modelDir = join(dir, 'vit-tiny');
  await writeCheckpoint(modelDir, made);
});

const argv = () => [
  '--model', modelDir, '--data', DATA, '--methods', 'lora,randlora', '--budgets', '1500,4000', '--seeds', '0,1',
  '--references', 'none', '--k-shot', '4', '--steps', '2', '--batch', '8', '--val-size', '20', '--eval-every', '2',
  '--log-every', '1', '--targets', 'query,value', '--image-cache', 'off', '--out', join(dir, 'study'),
];

describe('npm run study', () => {
  it('refuses what a study sets itself, and names what is missing', () => {
    expect(() => parseStudyArgs(['--model', 'm', '--data', 'd', '--methods', 'lora', '--budgets', '10', '--out', 'o', '--seed', '1'])).toThrow(/--seed does not apply to a study/);
    expect(() => parseStudyArgs(['--model', 'm', '--data', 'd', '--methods', 'full', '--budgets', '10', '--out', 'o'])).toThrow(/runs as a reference: --references full/);
    expect(() => parseStudyArgs(['--model', 'm', '--data', 'd', '--methods', 'lora', '--out', 'o'])).toThrow(/--budgets is required/);
    expect(() => parseStudyArgs(['--model', 'm', '--data', 'd', '--methods', 'lora', '--budgets', '10', '--out', 'o', '--set', 'r=2'])).toThrow(/names the method: --set nola.c=2/);
  });

  it('runs every cell, writes study.json/csv/svg, matches budgets, and resumes', async () => {
    const out = join(dir, 'study');
    const lines: string[] = [];
    const first = await study(parseStudyArgs(argv()), (l) => lines.push(l));
    expect(first.skipped).toEqual([]);
    expect(lines.join('\n')).toMatch(/Budgets count trainable values with the classification head included \(330 values\)/);

    const json = JSON.parse(await readFile(join(out, 'study.json'), 'utf8')) as { runs: StudyRow[]; counting: { include_head: boolean } };
    expect(json.counting.include_head).toBe(true);
    expect(json.runs).toHaveLength(8);
    const shape = studyShape(made.spec, ['query', 'value'], 10);
    for (const r of json.runs) {
      expect(r.status).toBe('done');
      for (const k of ['method', 'setting', 'trainable_params', 'budget', 'seed', 'k_shot', 'best_val_accuracy', 'final_val_accuracy', 'rank_numerical', 'rank_effective', 'intruders'])
        expect(r, `${r.key} lacks ${k}`).toHaveProperty(k);
      expect(r.k_shot).toBe(4);
      expect(r.best_val_accuracy).toBeGreaterThanOrEqual(r.final_val_accuracy);
      expect(r.rank_effective).toBeGreaterThan(0);
      // The run trained what the plan counted (head included), and no setting of the knob comes closer to the budget.
      const summary = JSON.parse(await readFile(join(out, 'runs', runFolder(r.key), 'summary.json'), 'utf8'));
      expect(summary.trainable_params).toBe(r.trainable_params);
      const m = methodById(r.method);
      const [lo, hi] = m.budget!.range(shape.layers);
      for (let v = lo; v <= hi; v++) {
        const n = shape.head + m.countParams(m.budget!.apply(r.config as never, v), shape.layers);
        expect(Math.abs(n - r.budget!)).toBeGreaterThanOrEqual(Math.abs(r.trainable_params - r.budget!));
      }
    }
    expect(new Set(json.runs.map((r) => r.key)).size).toBe(8);
    const csv = (await readFile(join(out, 'study.csv'), 'utf8')).trim().split('\r\n');
    expect(csv).toHaveLength(9);
    expect(csv[0].split(',')).toEqual(expect.arrayContaining(['method', 'setting', 'trainable_params', 'budget', 'seed', 'k_shot', 'best_val_accuracy', 'final_val_accuracy', 'rank_numerical', 'rank_effective', 'intruders']));
    const svg = await readFile(join(out, 'study.svg'), 'utf8');
    expect(svg).toContain('data-method="lora"');
    expect(svg).toContain('data-method="randlora"');
    expect(lines.join('\n')).toMatch(/Paired difference RandLoRA − LoRA/);

    // Intruders against float64 from the files: W0 from the base checkpoint, W0 + ΔW from the merged export.
    const rl = json.runs.find((r) => r.method === 'randlora')!;
    const base = readSafetensors(await readFile(join(modelDir, 'model.safetensors'))).tensors;
    const merged = readSafetensors(await readFile(join(out, 'runs', runFolder(rl.key), 'merged', 'model.safetensors'))).tensors;
    expect(rl.intruders_per_layer).toHaveLength(shape.layers.length);
    for (const l of rl.intruders_per_layer!) {
      const w0 = base.get(`${l.module}.weight`)!;
      const w1 = merged.get(`${l.module}.weight`)!;
      const ref = layerIntruders(l.module, w0.data, w1.data, w0.shape[0], w0.shape[1]);
      ref.topCosines.forEach((c, i) => expect(Math.abs(c - l.topCosines[i]), l.module).toBeLessThan(2e-3));
    }

    // Second run: everything is finished, nothing runs and no run folder is rewritten.
    const rowFile = (r: StudyRow) => join(out, 'runs', runFolder(r.key), 'row.json');
    const before = await Promise.all(json.runs.map(async (r) => (await stat(rowFile(r))).mtimeMs));
    const again: string[] = [];
    const second = await study(parseStudyArgs(argv()), (l) => again.push(l));
    expect(second.skipped).toHaveLength(8);
    expect(again.filter((l) => / skip .*finished earlier/.test(l))).toHaveLength(8);
    expect(await Promise.all(json.runs.map(async (r) => (await stat(rowFile(r))).mtimeMs))).toEqual(before);
    expect(second.rows.map((r) => r.best_val_accuracy)).toEqual(json.runs.map((r) => r.best_val_accuracy));

    // A half-written run (no row.json) is redone, and only that one.
    await rm(rowFile(json.runs[3]));
    const third: string[] = [];
    const r3 = await study(parseStudyArgs(argv()), (l) => third.push(l));
    expect(r3.skipped).toHaveLength(7);
    expect(r3.skipped).not.toContain(json.runs[3].key);
    expect(third.join('\n')).toContain(`${json.runs[3].key}: half-written (no row.json); running it again`);
    // Same seed, same data, same settings: the redone run gives the same accuracy.
    expect(r3.rows[3].best_val_accuracy).toBe(json.runs[3].best_val_accuracy);
  }, 900_000);
});
