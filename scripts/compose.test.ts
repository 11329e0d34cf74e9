/**
 * `npm run compose` end to end on a micro ViT: a LoRA run and a full fine-tuning run of the
 * built-in Fashion-MNIST subset, composed for a few steps with aTLAS×2; the summary's fields, the
 * members' accuracies against their own runs', the merged export against θ₀ + Σ λ·τ recomputed from
 * composition.json, and the refusals that name the run and the tensor.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockGroups } from '../src/compose/groups';
import { loadCheckpointFrom } from '../src/io/node';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors';
import { makeModel } from '../src/models/makeModel';
import { estimateCompose, COMPOSE_DEFAULTS } from '../src/session/compose';
import { compose, ComposeInputError, parseComposeArgs, UsageError } from './compose';
import { writeCheckpoint } from './make-model';
import { parseTrainArgs, train } from './train';

const DATA = 'public/datasets/fashion-mnist-mini';
const quiet = () => {};
let dir: string;
let base: string;
let loraRun: string;
let fullRun: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rankscope-compose-'));
  base = join(dir, 'base');
  await writeCheckpoint(base, makeModel({ arch: 'vit', preset: 'micro', seed: 1, labels: 10, init: 'varied' }));
  loraRun = join(dir, 'run-lora');
  fullRun = join(dir, 'run-full');
  const common = ['--model', base, '--data', DATA, '--steps', '2', '--batch', '8', '--train-size', '20', '--val-size', '20', '--seed', '3'];
  await train(parseTrainArgs([...common, '--method', 'lora', '--lr', '5e-2', '--out', loraRun]), quiet);
  await train(parseTrainArgs([...common, '--method', 'full', '--lr', '1e-2', '--out', fullRun]), quiet);
}, 600_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run compose', () => {
  it('composes a LoRA and a full fine-tuning run: accuracies, coefficients, and a merged model that is θ₀ + Σ λ·τ', async () => {
    const out = join(dir, 'composed');
    const s = await compose(
      parseComposeArgs(['--model', base, '--runs', `${loraRun},${fullRun}`, '--data', DATA, '--k-shot', '2', '--val-size', '20', '--seed', '3', '--steps', '3', '--groups', '2', '--batch', '8', '--out', out]),
      quiet,
    );
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(summary.final_val_accuracy).toBe(s.final_val_accuracy);
    for (const k of ['final_val_accuracy', 'base_accuracy', 'sum_accuracy']) {
      expect(summary[k]).toBeGreaterThanOrEqual(0);
      expect(summary[k]).toBeLessThanOrEqual(1);
    }
    expect(summary.train_images).toBe(20);
    expect(summary.seed).toBe(3);
    expect(summary.settings).toMatchObject({ lr: 0.1, weightDecay: 0.1, clip: 1, groups: 2, steps: 3 });
    // Each member with its own head on the same validation images as its own run (same seed and size).
    for (const [m, run] of [loraRun, fullRun].entries()) {
      const own = JSON.parse(await readFile(join(run, 'summary.json'), 'utf8'));
      expect(summary.members[m].run).toBe(run);
      expect(summary.members[m].accuracy).toBeCloseTo(own.final_val_accuracy, 6);
    }
    const c = summary.coefficients;
    // LoRA changes the attention query/value weights; full fine-tuning changes every tensor that got a gradient.
    expect(c.task_vectors).toEqual([loraRun, fullRun]);
    expect(c.values).toHaveLength(2);
    expect(c.values[0]).toHaveLength(c.blocks.length);
    expect(c.values[0][0]).toHaveLength(2);
    // λ started at 0 and moved (lr 0.1 with AdamW moves each coefficient by about lr per step).
    expect(c.values.flat(2).some((v: number) => Math.abs(v) > 0.01)).toBe(true);
    expect(c.layers).toContain('vit.encoder.layer.0');

    const comp = JSON.parse(await readFile(join(out, 'composition.json'), 'utf8'));
    expect(comp.groups).toBe(2);
    expect(comp.coefficients).toEqual(c.values);
    expect(comp.members.map((m: { fingerprint: string }) => m.fingerprint)).toEqual([
      expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    ]);

    // The merged model loads as a checkpoint, and every composed block is exactly θ₀ + Σ_t λ·(θ_t − θ₀), computed in float64 and rounded once.
    const merged = await loadCheckpointFrom(join(out, 'merged'));
    const b0 = await loadCheckpointFrom(base);
    const members = [await loadCheckpointFrom(join(loraRun, 'merged')), await loadCheckpointFrom(join(fullRun, 'merged'))];
    expect(merged.config.architectures).toEqual(['ViTForImageClassification']);
    expect(merged.tensors.get('classifier.weight')!.shape).toEqual([10, 16]);
    let checked = 0;
    comp.blocks.forEach((name: string, b: number) => {
      const t0 = b0.tensors.get(name)!.data;
      const g = blockGroups(comp.seed, b, t0.length, comp.groups);
      const want = new Float32Array(t0.length);
      for (let e = 0; e < t0.length; e++) {
        let sum = 0;
        members.forEach((m, t) => (sum += c.values[t][b][g[e]] * (m.tensors.get(name)!.data[e] - t0[e])));
        want[e] = t0[e] + sum;
      }
      expect(merged.tensors.get(name)!.data).toEqual(want);
      checked++;
    });
    expect(checked).toBe(c.blocks.length);
    // Tensors no run changed keep the base's values.
    for (const name of comp.unchanged_tensors) expect(merged.tensors.get(name)!.data).toEqual(b0.tensors.get(name)!.data);
  }, 300_000);

  it('refuses runs from another base model, with missing files or tensors, and bad usage, naming the run and the tensor', async () => {
    const run = (runs: string[]) => compose(parseComposeArgs(['--model', base, '--runs', runs.join(','), '--data', DATA, '--train-size', '10', '--val-size', '10', '--steps', '1', '--out', join(dir, 'x')]), quiet);
    await expect(run([join(dir, 'nope')])).rejects.toThrow(ComposeInputError);
    await expect(run([join(dir, 'nope')])).rejects.toThrow(/nope: no summary\.json/);

    // A run folder whose merged model is another model of the same shape (another base).
    const other = join(dir, 'run-other');
    await cp(loraRun, other, { recursive: true });
    await writeCheckpoint(join(other, 'merged'), makeModel({ arch: 'vit', preset: 'micro', seed: 9, labels: 10, init: 'varied' }));
    await expect(run([loraRun, other])).rejects.toThrow(/run-other: tensor "vit\.embeddings\.\w+" differs from the base model's .* LoRA changes only adapted linear weights/);
    const summary = JSON.parse(await readFile(join(other, 'summary.json'), 'utf8'));
    await writeFile(join(other, 'summary.json'), JSON.stringify({ ...summary, method: 'full' }));
    await expect(run([other])).rejects.toThrow(/run-other: its weights are far from the base model's .* not fine-tuned from this base/);

    // Another architecture, a missing tensor, another shape.
    const wide = join(dir, 'run-wide');
    await cp(loraRun, wide, { recursive: true });
    await writeCheckpoint(join(wide, 'merged'), makeModel({ arch: 'vit', preset: 'micro', dims: { intermediate: 24 }, seed: 1, labels: 10, init: 'varied' }));
    await expect(run([wide])).rejects.toThrow(/run-wide: its model has intermediate = 24 but the base model .* has 32/);
    const cut = join(dir, 'run-cut');
    await cp(loraRun, cut, { recursive: true });
    const file = join(cut, 'merged', 'model.safetensors');
    const plain = (f: Buffer) => new Map([...readSafetensors(f).tensors].map(([k, v]) => [k, { shape: [...v.shape], data: v.data as Float32Array }]));
    const tensors = plain(await readFile(file));
    tensors.delete('vit.encoder.layer.1.output.dense.weight');
    await writeFile(file, writeSafetensors(tensors));
    await expect(run([cut])).rejects.toThrow(/run-cut: its merged model has no tensor "vit\.encoder\.layer\.1\.output\.dense\.weight"/);
    const bent = join(dir, 'run-bent');
    await cp(loraRun, bent, { recursive: true });
    const t2 = plain(await readFile(join(bent, 'merged', 'model.safetensors')));
    const q = t2.get('vit.encoder.layer.0.attention.attention.query.weight')!;
    t2.set('vit.encoder.layer.0.attention.attention.query.weight', { ...q, shape: [q.shape[1] / 2, q.shape[0] * 2] });
    await writeFile(join(bent, 'merged', 'model.safetensors'), writeSafetensors(t2));
    await expect(run([bent])).rejects.toThrow(/run-bent: tensor "vit\.encoder\.layer\.0\.attention\.attention\.query\.weight" has shape \[8,32\] but the base model's is \[16,16\]/);
    const gone = join(dir, 'run-gone');
    await cp(loraRun, gone, { recursive: true });
    await rm(join(gone, 'merged'), { recursive: true });
    await expect(run([gone])).rejects.toThrow(/run-gone: merged\/model\.safetensors is missing/);

    // Past the memory limit: the estimate says how many runs to drop.
    const b = await loadCheckpointFrom(base);
    const members = [loraRun, fullRun].map(async (r) => ({ name: r, checkpoint: await loadCheckpointFrom(join(r, 'merged')) }));
    const est = estimateCompose(b, await Promise.all(members), COMPOSE_DEFAULTS, 1);
    expect(est.fits).toBe(false);
    expect(est.taskVectorBytes).toBeGreaterThan(0);
    expect(est.message).toMatch(/even one task vector does not fit/);
    const tight = estimateCompose(b, await Promise.all(members), COMPOSE_DEFAULTS, est.totalBytes - 1);
    expect(tight.message).toMatch(new RegExp(`Drop 1 of the runs \\(e\\.g\\. ${fullRun}\\) and compose 1 or fewer`));
    const roomy = estimateCompose(b, await Promise.all(members.slice(0, 1)), COMPOSE_DEFAULTS, 1e9);
    expect(roomy.fits).toBe(true);
    expect(() => estimateCompose(b, [], COMPOSE_DEFAULTS, 1e9)).toThrow(/No runs to compose/);

    expect(() => parseComposeArgs(['--model', base, '--data', DATA, '--out', 'x'])).toThrow(UsageError);
    expect(() => parseComposeArgs(['--model', base, '--runs', ' , ', '--data', DATA, '--out', 'x'])).toThrow(/--runs needs at least one run folder/);
    expect(() => parseComposeArgs(['--model', base, '--runs', loraRun, '--data', DATA, '--out', 'x', '--groups', '0'])).toThrow(/--groups is 0/);

    // A zero-shot head needs a CLIP with its text tower: refused on this ViT, naming the model and what to do.
    const zs = compose(parseComposeArgs(['--model', base, '--runs', loraRun, '--data', DATA, '--train-size', '10', '--val-size', '10', '--steps', '1', '--head', 'zeroshot', '--out', join(dir, 'x')]), quiet);
    await expect(zs).rejects.toThrow(ComposeInputError);
    await expect(zs).rejects.toThrow(/base is a ViT\w*; zero-shot heads need a CLIP model, whose text tower reads the class names\. Use a new linear head/);
    expect(() => parseComposeArgs(['--model', base, '--runs', loraRun, '--data', DATA, '--out', 'x', '--head', 'zero'])).toThrow(/--head is linear, zeroshot or zeroshot-init, got "zero"/);
    expect(() => parseComposeArgs(['--model', base, '--runs', loraRun, '--data', DATA, '--out', 'x', '--templates', 't.txt'])).toThrow(/--templates is for a zero-shot head/);
    expect(parseComposeArgs(['--model', base, '--runs', loraRun, '--data', DATA, '--out', 'x', '--head', 'zeroshot-init']).settings.head).toBe('zeroshot-init');
  }, 300_000);
});
