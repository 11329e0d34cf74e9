/**
 * `npm run ensemble` end to end: two finished runs of different methods (one on a ViT, one under a
 * CLIP zero-shot head, so members differ in backbone, image size and head), ensembled on the
 * built-in Fashion-MNIST subset; and the refusals that name the run and what is wrong.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../src/io/safetensors';
import { makeModel } from '../src/models/makeModel';
import { ensemble, parseEnsembleArgs, UsageError } from './ensemble';
import { writeCheckpoint } from './make-model';
import { parseTrainArgs, train } from './train';

const DATA = 'public/datasets/fashion-mnist-mini';
const quiet = () => {};
let dir: string;
let vitRun: string;
let clipRun: string;
let clipModel: string;
let vitModel: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rankscope-ensemble-'));
  const vit = join(dir, 'vit');
  const clip = join(dir, 'clip');
  await writeCheckpoint(vit, makeModel({ arch: 'vit', preset: 'micro', seed: 1, labels: 10, init: 'varied' }));
  await writeCheckpoint(clip, makeModel({ arch: 'clip', preset: 'micro', seed: 2, labels: 10, text: true, init: 'varied' }));
  clipModel = clip;
  vitModel = vit;
  vitRun = join(dir, 'run-vit');
  clipRun = join(dir, 'run-clip');
  const common = ['--data', DATA, '--steps', '2', '--batch', '8', '--train-size', '20', '--val-size', '20', '--seed', '3', '--lr', '1e-2'];
  await train(parseTrainArgs(['--model', vit, '--method', 'lora', ...common, '--out', vitRun]), quiet);
  await train(parseTrainArgs(['--model', clip, '--method', 'vera', '--head', 'zeroshot', ...common, '--out', clipRun]), quiet);
}, 600_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run ensemble', () => {
  it('ensembles a ViT and a zero-shot CLIP run: members, average and oracle on the same validation images, and the files', async () => {
    const out = join(dir, 'ens');
    const s = await ensemble(parseEnsembleArgs(['--runs', `${vitRun},${clipRun}`, '--data', DATA, '--k-shot', '2', '--val-size', '20', '--seed', '3', '--steps', '50', '--out', out]), quiet);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(summary.final_val_accuracy).toBe(s.final_val_accuracy);
    expect(summary.train_images).toBe(20); // 2 per class × 10 classes
    expect(summary.val_images).toBe(20);
    expect(summary.members.map((m: { head: string }) => m.head)).toEqual(['linear', 'zeroshot']);
    // Each member's accuracy here is its own run's, on the same validation images (same seed and size).
    for (const [m, run] of [vitRun, clipRun].entries()) {
      const own = JSON.parse(await readFile(join(run, 'summary.json'), 'utf8'));
      // (The run reports its accuracy through float32 GPU statistics.)
      expect(summary.members[m].accuracy).toBeCloseTo(own.final_val_accuracy, 6);
    }
    const accs = summary.members.map((m: { accuracy: number }) => m.accuracy);
    expect(summary.oracle_accuracy).toBeGreaterThanOrEqual(Math.max(...accs));
    for (const k of ['final_val_accuracy', 'average_accuracy', 'oracle_accuracy']) expect(summary[k]).toBeGreaterThanOrEqual(0);
    expect(summary.controller.final_loss).toBeLessThan(summary.controller.first_loss);

    const spec = JSON.parse(await readFile(join(out, 'ensemble.json'), 'utf8'));
    expect(spec.members).toHaveLength(2);
    const w = readSafetensors(await readFile(join(out, 'controller.safetensors'))).tensors;
    expect(w.get('W2')!.shape).toEqual([2, spec.controller.width]);
    expect(w.get('W1')!.shape[1]).toBe(summary.members[0].feature_size + summary.members[1].feature_size);
    expect(await readFile(join(out, 'apply_ensemble.py'), 'utf8')).toContain('def ensemble_logits');
  }, 300_000);

  it('takes loaded models as members: a full CLIP under its zero-shot head, made from the class names and kept beside ensemble.json', async () => {
    const out = join(dir, 'ens-models');
    await ensemble(parseEnsembleArgs(['--runs', vitRun, '--models', `${clipModel}@zeroshot`, '--data', DATA, '--k-shot', '2', '--val-size', '20', '--seed', '3', '--steps', '20', '--out', out]), quiet);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(summary.members.map((m: { head: string }) => m.head)).toEqual(['linear', 'zeroshot']);
    expect(summary.members[1].model).toBe(clipModel);
    expect(summary.members[1].accuracy).toBeGreaterThanOrEqual(0);
    const spec = JSON.parse(await readFile(join(out, 'ensemble.json'), 'utf8'));
    expect(spec.members[0].zero_shot_head).toBeUndefined();
    const head = readSafetensors(await readFile(join(out, spec.members[1].zero_shot_head))).tensors.get('zero_shot_head.weight')!;
    // One row per class, as wide as the features the controller reads for this member.
    expect(head.shape).toEqual([10, summary.members[1].feature_size]);
    expect(head.data.some((v) => v !== 0)).toBe(true);
    // A ViT has no text tower: asking for its zero-shot head is refused, naming the model.
    await expect(ensemble(parseEnsembleArgs(['--runs', vitRun, '--models', `${vitModel}@zeroshot`, '--data', DATA, '--out', join(dir, 'x')]), quiet)).rejects.toThrow(/--models .*vit@zeroshot: .*zero-shot heads need a CLIP/);
    expect(() => parseEnsembleArgs(['--runs', vitRun, '--models', `${clipModel}@linear`, '--data', DATA, '--out', 'x'])).toThrow(/only head to name is @zeroshot/);
  }, 300_000);

  it('refuses runs that did not finish, runs on other classes, and bad usage, naming what is wrong', async () => {
    await expect(ensemble(parseEnsembleArgs(['--runs', `${vitRun},${join(dir, 'nope')}`, '--data', DATA, '--out', join(dir, 'x')]), quiet)).rejects.toThrow(/nope: no summary\.json/);
    await expect(ensemble(parseEnsembleArgs(['--runs', `${vitRun},${clipRun}`, '--data', 'public/datasets/fashion-mnist-heldout', '--out', join(dir, 'x')]), quiet)).rejects.toThrow(/run-vit was trained on the classes .* Ensemble members must share/);
    expect(() => parseEnsembleArgs(['--runs', vitRun, '--data', DATA, '--out', 'x'])).toThrow(UsageError);
    expect(() => parseEnsembleArgs(['--models', vitRun, '--data', DATA, '--out', 'x'])).toThrow(/at least two members/);
    expect(() => parseEnsembleArgs(['--runs', `${vitRun},${clipRun}`, '--data', DATA, '--out', 'x', '--width', '0'])).toThrow(/--width is 0/);
  }, 120_000);
});

const hasNumpy = (() => {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasNumpy)('apply_ensemble.py (python3 with numpy)', () => {
  it('gives the logits the controller gives here', async () => {
    const { initController, predict } = await import('../src/ensemble/controller');
    const N = 5;
    const inputs = {
      features: [Float32Array.from({ length: N * 3 }, (_, i) => Math.sin(i)), Float32Array.from({ length: N * 2 }, (_, i) => Math.cos(i * 1.3))],
      featureSizes: [3, 2],
      logits: [Float32Array.from({ length: N * 4 }, (_, i) => Math.sin(i * 0.7)), Float32Array.from({ length: N * 4 }, (_, i) => Math.cos(i * 0.4))],
      classes: 4,
      count: N,
    };
    const c = initController(inputs, [0, 1, 2, 3, 4], 6, 2);
    c.W2.forEach((_, i) => (c.W2[i] = Math.sin(i) * 0.5));
    const want = predict(c, inputs);
    const py = [
      'import json, sys, numpy as np',
      `sys.path.insert(0, ${JSON.stringify(join(process.cwd(), 'src/ensemble/python'))})`,
      'from apply_ensemble import ensemble_logits',
      'd = json.load(sys.stdin)',
      'ctl = {k: np.array(v, dtype=np.float64).reshape(d["shapes"][k]) for k, v in d["controller"].items()}',
      'f = [np.array(x).reshape(d["N"], -1) for x in d["features"]]',
      'l = [np.array(x).reshape(d["N"], -1) for x in d["logits"]]',
      'out, t = ensemble_logits(ctl, f, l, d["t_min"])',
      'print(json.dumps({"logits": out.ravel().tolist(), "t": t.ravel().tolist()}))',
    ].join('\n');
    const { T_MIN } = await import('../src/ensemble/controller');
    const input = JSON.stringify({
      N,
      t_min: T_MIN,
      features: inputs.features.map((f) => [...f]),
      logits: inputs.logits.map((l) => [...l]),
      controller: { W1: [...c.W1], b1: [...c.b1], W2: [...c.W2], b2: [...c.b2], mean: [...c.mean], std: [...c.std] },
      shapes: { W1: [c.width, c.inputSize], b1: [c.width], W2: [c.members, c.width], b2: [c.members], mean: [c.inputSize], std: [c.inputSize] },
    });
    const got = JSON.parse(execFileSync('python3', ['-c', py], { input }).toString());
    got.logits.forEach((v: number, i: number) => expect(v).toBeCloseTo(want.logits[i], 9));
    got.t.forEach((v: number, i: number) => expect(v).toBeCloseTo(want.temperatures[i], 9));
  });
});
