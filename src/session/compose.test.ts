/**
 * `composeRuns` as the page's worker calls it, on a micro CLIP with its text tower (vision_model.
 * names, a full CLIPModel's extras): progress phases in order, a stop that ends the composition
 * early and the baselines' heads trained exactly as long, every pooled buffer returned, and an
 * export that keeps the text tower beside the composed vision tower.
 */
import { describe, expect, it } from 'vitest';
import { randU32 } from '../engine/random';
import type { Checkpoint } from '../io/checkpoint';
import { imagePreprocessing } from '../io/preprocessor';
import { readSafetensors } from '../io/safetensors';
import { makeModel } from '../models/makeModel';
import { TEXT_FULL_CHECKPOINT_HINT, VISUAL_PROJECTION } from '../models/textSpec';
import type { PackedImages } from '../train/data';
import { Trainer } from '../train/trainer';
import { testData, useGpu } from '../testing/gpu';
import { composeExportFiles, composeRuns, COMPOSE_DEFAULTS, estimateCompose, type ComposeProgress } from './compose';
import { normalisationFor } from './prepare';
import { buildRunModel, zeroShotHead } from './zeroShot';

const gpu = useGpu();

function images(): PackedImages {
  const count = 6;
  return {
    count,
    channels: 3,
    images: Array.from({ length: count }, (_, k) => ({
      data: Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => randU32(5, 3, k * 768 + i) & 0xff),
      width: 16,
      height: 16,
      channels: 3,
    })),
    labels: Int32Array.from({ length: count }, (_, i) => i % 3),
    classNames: ['a', 'b', 'c'],
  };
}

type Made = ReturnType<typeof makeModel>;

function checkpointOf(made: Made, tensors: Checkpoint['tensors'], source: string): Checkpoint {
  return {
    config: made.config,
    preprocessor: imagePreprocessing(made.config, made.preprocessorConfig),
    tensors,
    weightFiles: ['model.safetensors'],
    source,
    ...(made.tokenizer ? { tokenizer: { files: ['tokenizer.json'], json: made.tokenizer.json, config: made.tokenizer.config } } : {}),
  };
}

const loadedOf = (made: Made): Checkpoint['tensors'] => new Map([...made.tensors].map(([k, v]) => [k, { dtype: 'F32' as const, shape: v.shape, data: v.data }]));

/** A member run: the base with `name` moved by 0.1 × seeded noise. */
function moved(made: Made, name: string, t: number, method: string) {
  const tensors = new Map([...loadedOf(made)].map(([k, v]) => [k, { ...v, data: v.data.slice() }]));
  const w = tensors.get(name)!;
  const d = testData(w.data.length, 60 + t);
  w.data.forEach((v, i) => (w.data[i] = v + 0.1 * d[i]));
  return { name: `run${t}`, method, checkpoint: checkpointOf(made, tensors, `run${t}`) };
}

describe('composeRuns', () => {
  it('CLIP with a text tower: phases, an early stop, the pool, and the export', async () => {
    const { ctx } = gpu();
    const made = makeModel({ arch: 'clip', preset: 'micro', seed: 2, labels: 3, text: true, init: 'varied' });
    const ckpt = (tensors: Checkpoint['tensors'], source: string): Checkpoint => ({
      config: made.config,
      preprocessor: imagePreprocessing(made.config, made.preprocessorConfig),
      tensors,
      weightFiles: ['model.safetensors'],
      source,
      tokenizer: { files: ['tokenizer.json'], json: made.tokenizer!.json, config: made.tokenizer!.config },
    });
    const loaded = new Map([...made.tensors].map(([k, v]) => [k, { dtype: 'F32' as const, shape: v.shape, data: v.data }]));
    const base = ckpt(loaded, 'base');
    const moved = ['vision_model.encoder.layers.0.self_attn.q_proj.weight', 'vision_model.encoder.layers.1.mlp.fc1.weight'];
    const members = moved.map((name, t) => {
      const tensors = new Map([...loaded].map(([k, v]) => [k, { ...v, data: v.data.slice() }]));
      const w = tensors.get(name)!;
      const d = testData(w.data.length, 60 + t);
      w.data.forEach((v, i) => (w.data[i] = v + 0.1 * d[i]));
      return { name: `run${t}`, method: 'lora', checkpoint: ckpt(tensors, `run${t}`) };
    });
    const set = images();
    const idx = [...set.labels.keys()];
    const data = { train: set, trainIndices: idx, val: set, valIndices: idx, classNames: set.classNames };
    await ctx.flush();
    const baseline = ctx.pool.live;
    const seen: ComposeProgress[] = [];
    let steps = 0;
    const result = await composeRuns(ctx, base, members, data, { ...COMPOSE_DEFAULTS, steps: 5, batchSize: 3, groups: 2, seed: 4 }, {
      onProgress: (p) => {
        seen.push(p);
        if (p.phase === 'compose' && p.loss !== undefined) steps = p.step;
      },
      // Stop after the composition's second step: the baselines then train 2 steps too.
      shouldStop: () => steps >= 2,
    });
    await ctx.flush();
    expect(ctx.pool.live).toBe(baseline);
    expect(result.steps).toBe(2);
    const phases = [...new Set(seen.map((p) => p.phase))];
    expect(phases).toEqual(['compose', 'base', 'sum', 'members']);
    expect(Math.max(...seen.filter((p) => p.phase === 'base').map((p) => p.step))).toBe(2);
    expect(Math.max(...seen.filter((p) => p.phase === 'sum').map((p) => p.step))).toBe(2);
    expect(result.curve.map((p) => p.step)).toEqual([1, 2]);
    expect(result.curve[1].valAccuracy).toBe(result.finalValAccuracy);
    expect(result.coefficients.blocks).toEqual(moved);
    expect(result.coefficients.layerOf).toEqual(['vision_model.encoder.layers.0', 'vision_model.encoder.layers.1']);
    expect(result.coefficients.values.map((t) => t.map((b) => b.length))).toEqual([
      [2, 2],
      [2, 2],
    ]);
    // The members' heads have 3 classes, but makeModel's (LABEL_0 …), not the data's: no accuracy, and why.
    expect(result.members.map((m) => m.name)).toEqual(['run0', 'run1']);
    for (const m of result.members) {
      expect(m.accuracy).toBeNull();
      expect(m.note).toMatch(/classes \(LABEL_0, LABEL_1, LABEL_2\) are not the data's \(a, b, c\)/);
    }

    const files = composeExportFiles(base, result, { baseModel: 'base', labels: set.classNames, members });
    const config = JSON.parse(new TextDecoder().decode(files.merged.get('config.json')!));
    expect(config.architectures).toEqual(['CLIPForImageClassification']);
    expect(config.id2label).toEqual({ 0: 'a', 1: 'b', 2: 'c' });
    const tensors = readSafetensors(files.merged.get('model.safetensors')!).tensors;
    expect([...tensors.keys()].some((n) => n.startsWith('text_model.'))).toBe(true);
    expect(tensors.get('classifier.weight')!.shape).toEqual([3, made.spec.hidden]);
    expect(files.merged.has('tokenizer.json')).toBe(true);
    const comp = JSON.parse(new TextDecoder().decode(files.composition));
    expect(comp.members).toEqual([
      { run: 'run0', fingerprint: null },
      { run: 'run1', fingerprint: null },
    ]);
  }, 120_000);

  it('a frozen zero-shot head: only λ train, the base is CLIP zero-shot, visual_projection is composed, exported as CLIPModel', async () => {
    const { ctx } = gpu();
    const made = makeModel({ arch: 'clip', preset: 'micro', seed: 2, labels: 3, text: true, init: 'varied' });
    const base = checkpointOf(made, loadedOf(made), 'base');
    // A LoRA run (attention) and a full fine-tuning run under a zero-shot head, which moved visual_projection.
    const members = [moved(made, 'vision_model.encoder.layers.0.self_attn.q_proj.weight', 0, 'lora'), moved(made, VISUAL_PROJECTION, 1, 'full')];
    const set = { ...images(), classNames: ['shirt', 'trouser', 'bag'] };
    const idx = [...set.labels.keys()];
    const data = { train: set, trainIndices: idx, val: set, valIndices: idx, classNames: set.classNames };
    const settings = { ...COMPOSE_DEFAULTS, steps: 3, batchSize: 3, seed: 4, head: 'zeroshot' as const };

    // visual_projection is on the image path only under a zero-shot head.
    expect(estimateCompose(base, members, { ...settings, head: 'linear' }, 1e9).blocks).toBe(1);
    expect(estimateCompose(base, members, settings, 1e9).blocks).toBe(2);

    // The zero-shot run on the same validation images: its model, no training.
    const zsModel = await buildRunModel(ctx, base, set.classNames, 4, 'zeroshot');
    const zsTrainer = new Trainer(zsModel, data, normalisationFor(zsModel.spec, base), { method: 'probe', targets: [], head: 'zeroshot', steps: 0, batchSize: 3 });
    const zeroShotAccuracy = (await zsTrainer.evaluate()).accuracy;
    zsTrainer.release();
    zsModel.release();
    const head = (await zeroShotHead(ctx, base, set.classNames)).weight;
    await ctx.flush();
    const live = ctx.pool.live;

    const seen: ComposeProgress[] = [];
    const result = await composeRuns(ctx, base, members, data, settings, { onProgress: (p) => seen.push(p) });
    await ctx.flush();
    expect(ctx.pool.live).toBe(live);
    expect(result.trainables).toEqual(['compose.lambda']);
    expect(result.steps).toBe(3);
    // With the head frozen the base trains nothing: it is exactly the zero-shot run.
    expect(result.baseAccuracy).toBe(zeroShotAccuracy);
    expect(seen.filter((p) => p.phase === 'base' && p.loss !== undefined)).toEqual([]);
    expect(seen.filter((p) => p.phase === 'sum' && p.loss !== undefined)).toEqual([]);
    expect(result.coefficients.blocks).toEqual(['vision_model.encoder.layers.0.self_attn.q_proj.weight', VISUAL_PROJECTION]);
    expect(result.coefficients.values.flat(2).some((v) => Math.abs(v) > 1e-3)).toBe(true);

    // The head in the composed model is the zero-shot head, bit for bit: it did not train.
    const files = composeExportFiles(base, result, { baseModel: 'base', labels: set.classNames, members });
    const config = JSON.parse(new TextDecoder().decode(files.merged.get('config.json')!));
    expect(config.architectures).toEqual(['CLIPModel']);
    expect(config.id2label).toEqual({ 0: 'shirt', 1: 'trouser', 2: 'bag' });
    const tensors = readSafetensors(files.merged.get('model.safetensors')!).tensors;
    expect(tensors.get('zero_shot_head.weight')!.shape).toEqual([3, made.spec.projectionDim]);
    expect(tensors.get('zero_shot_head.weight')!.data).toEqual(head);
    expect([...tensors.keys()].filter((n) => n.startsWith('classifier.'))).toEqual([]);
    expect(tensors.has('text_model.embeddings.token_embedding.weight')).toBe(true);
    // visual_projection is θ₀ + λ·τ of the run that moved it (K = 1; the LoRA run's τ there is 0), rounded once.
    const t0 = made.tensors.get(VISUAL_PROJECTION)!.data;
    const t1 = members[1].checkpoint.tensors.get(VISUAL_PROJECTION)!.data;
    const lam = result.coefficients.values[1][1][0];
    expect(tensors.get(VISUAL_PROJECTION)!.data).toEqual(Float32Array.from(t0, (v, e) => v + lam * (t1[e] - v)));
    const comp = JSON.parse(new TextDecoder().decode(files.composition));
    expect(comp.head).toBe('zeroshot');
    expect(comp.templates).toEqual(['a photo of a {}.']);
  }, 120_000);

  it('a zero-shot head trained from there trains λ and its weight; a model without a text tower is refused with the hint', async () => {
    const { ctx } = gpu();
    const made = makeModel({ arch: 'clip', preset: 'micro', seed: 2, labels: 3, text: true, init: 'varied' });
    const base = checkpointOf(made, loadedOf(made), 'base');
    const members = [moved(made, 'vision_model.encoder.layers.1.mlp.fc1.weight', 0, 'full')];
    const set = { ...images(), classNames: ['shirt', 'trouser', 'bag'] };
    const idx = [...set.labels.keys()];
    const data = { train: set, trainIndices: idx, val: set, valIndices: idx, classNames: set.classNames };
    const result = await composeRuns(ctx, base, members, data, { ...COMPOSE_DEFAULTS, steps: 2, batchSize: 3, head: 'zeroshot-init' });
    expect([...result.trainables].sort()).toEqual(['classifier.weight', 'compose.lambda']);
    const head = (await zeroShotHead(ctx, base, set.classNames)).weight;
    expect(result.merged.get('zero_shot_head.weight')).not.toEqual(head);

    // A vision-only CLIP (no text tower): refused before anything trains, by the estimate and by the run.
    const vision = makeModel({ arch: 'clip', preset: 'micro', seed: 2, labels: 3 });
    const vbase = checkpointOf(vision, loadedOf(vision), 'clip-vision');
    const vmembers = [moved(vision, 'vision_model.encoder.layers.1.mlp.fc1.weight', 0, 'full')];
    const hint = TEXT_FULL_CHECKPOINT_HINT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(() => estimateCompose(vbase, vmembers, { ...COMPOSE_DEFAULTS, head: 'zeroshot' }, 1e9)).toThrow(new RegExp(`clip-vision has no text tower .*${hint}`));
    await expect(composeRuns(ctx, vbase, vmembers, data, { ...COMPOSE_DEFAULTS, steps: 1, head: 'zeroshot' })).rejects.toThrow(/ComposeInputError|no text tower/);
  }, 120_000);
});
