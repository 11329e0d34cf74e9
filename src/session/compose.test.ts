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
import type { PackedImages } from '../train/data';
import { testData, useGpu } from '../testing/gpu';
import { composeExportFiles, composeRuns, COMPOSE_DEFAULTS, type ComposeProgress } from './compose';

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
});
