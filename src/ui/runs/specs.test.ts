import { describe, expect, it } from 'vitest';
import { METHODS, type MethodId } from '../../methods/registry';
import { TRAIN_DEFAULTS } from '../../train/trainer';
import { COMPARISON_LR, comparisonSpecs, formatLr, specFromSettings, targetedLayers, uniqueName } from './specs';

const model = {
  defaultTargets: ['query', 'value'],
  allTargets: ['query', 'key', 'value', 'intermediate.dense'],
  linearLayers: [
    { module: 'vit.encoder.layer.0.attention.attention.query', out: 32, in: 32 },
    { module: 'vit.encoder.layer.0.attention.attention.key', out: 32, in: 32 },
    { module: 'vit.encoder.layer.0.attention.attention.value', out: 32, in: 32 },
    { module: 'vit.encoder.layer.0.intermediate.dense', out: 64, in: 32 },
  ],
};
const configs = Object.fromEntries(Object.entries(METHODS).map(([id, m]) => [id, { ...m.defaults }])) as Record<MethodId, Record<string, unknown>>;

describe('run specs from the method settings', () => {
  it('one run: the selected method, its config, the model default targets and the first targeted layer for the rank chart', () => {
    const spec = specFromSettings({ method: 'lora', configs, targets: undefined, train: { ...TRAIN_DEFAULTS, steps: 40 } }, { model });
    expect(spec.method).toBe('lora');
    expect(spec.methodConfig).toMatchObject({ r: 8, alpha: 8 });
    expect(spec.targets).toEqual(['query', 'value']);
    expect(spec.rankLayer).toBe('vit.encoder.layer.0.attention.attention.query');
    expect(spec.rankEvery).toBe(2);
    expect(spec.train.logEvery).toBe(1);
    expect(spec.train.steps).toBe(40);
    expect(spec.name).toBe('LoRA r=8 · lr 1e-3');
    expect(spec.train.augment).toBeUndefined();
  });

  it('targetedLayers matches PEFT-style suffixes', () => {
    expect(targetedLayers(model, ['dense']).map((l) => l.module)).toEqual(['vit.encoder.layer.0.intermediate.dense']);
  });

  it('comparison: matched steps, batch, seed and schedule; each method its own defaults and learning rate; distinct ids', () => {
    const train = { ...TRAIN_DEFAULTS, steps: 6, batchSize: 4, seed: 3, warmupSteps: 1 };
    const augment = { crop: false as const, flip: true };
    const specs = comparisonSpecs({ configs, targets: ['value'], train }, { model, rankLayer: 'vit.encoder.layer.0.attention.attention.value', augment });
    expect(specs.map((s) => s.method)).toEqual(['lora', 'randlora', 'full']);
    expect(new Set(specs.map((s) => s.id)).size).toBe(3);
    for (const s of specs) {
      expect(s.train).toMatchObject({ steps: 6, batchSize: 4, seed: 3, warmupSteps: 1 });
      expect(s.targets).toEqual(['value']);
      expect(s.train.augment).toEqual(augment);
      expect(s.rankLayer).toBe('vit.encoder.layer.0.attention.attention.value');
      expect(s.train.lr).toBe(COMPARISON_LR[s.method as keyof typeof COMPARISON_LR]);
    }
    expect(specs[1].methodConfig).toMatchObject({ r: 32, alpha: 640 });
    expect(specs[0].train.lr).toBeGreaterThan(specs[2].train.lr!);
    const two = comparisonSpecs({ configs, targets: undefined, train }, { model, methods: ['lora', 'randlora'], lr: { randlora: 2e-3 } });
    expect(two.map((s) => [s.method, s.train.lr])).toEqual([
      ['lora', 5e-3],
      ['randlora', 2e-3],
    ]);
  });

  it('uniqueName numbers repeats', () => {
    expect(uniqueName('LoRA', new Set())).toBe('LoRA');
    expect(uniqueName('LoRA', new Set(['LoRA', 'LoRA (2)']))).toBe('LoRA (3)');
  });

  it('formatLr', () => {
    expect(formatLr(5e-3)).toBe('5e-3');
    expect(formatLr(1e-4)).toBe('1e-4');
    expect(formatLr(2.5e-3)).toBe('0.0025');
  });
});
