import { describe, expect, it } from 'vitest';
import { makeModel } from '../models/makeModel';
import { METHODS } from '../methods/registry';
import { estimateRun } from './estimate';

describe('estimates under CLIP heads', () => {
  it('a frozen zero-shot head trains nothing, a trained one its classes × projection_dim weight', () => {
    const m = makeModel({ arch: 'clip', preset: 'tiny', labels: 5, text: true });
    const run = (head?: 'linear' | 'zeroshot' | 'zeroshot-init') => estimateRun(m.spec, { id: 'x', name: 'x', method: 'probe', targets: [], train: head ? { head } : {} }, 5).trainableParams;
    expect(run()).toBe(5 * 32 + 5);
    expect(run('linear')).toBe(5 * 32 + 5);
    expect(run('zeroshot')).toBe(0);
    expect(run('zeroshot-init')).toBe(5 * m.spec.projectionDim!);
  });
});

describe('memory of methods with a merged route', () => {
  it('counts one out × in per adapted layer for RandLoRA and VeRA, beside parameters and bases', () => {
    const m = makeModel({ arch: 'vit', preset: 'tiny', labels: 5 });
    const targets = ['query', 'intermediate.dense'];
    const est = (method: 'lora' | 'randlora' | 'vera') => estimateRun(m.spec, { id: 'x', name: 'x', method, targets, train: {} }, 5);
    const lora = est('lora');
    const D = m.spec.hidden;
    const F = m.spec.intermediate;
    const kept = m.spec.layers * (D * D + F * D);
    for (const id of ['randlora', 'vera'] as const) {
      const e = est(id);
      const config = METHODS[id].defaults as never;
      const layers = e.maxRank.map((r) => r.module);
      expect(layers).toHaveLength(2 * m.spec.layers);
      const shapes = e.maxRank.map((r) => ({ module: r.module, out: r.module.endsWith('intermediate.dense') ? F : D, in: D }));
      expect(METHODS[id].stepFloats!(config, shapes)).toBe(kept);
      // Only the trainables (×3: values, gradient, moments), the bases and the kept copies differ from LoRA.
      const frozen = METHODS[id].frozenFloats(config, shapes);
      expect(e.memoryBytes - lora.memoryBytes).toBe(4 * (3 * (e.trainableParams - lora.trainableParams) + frozen + kept));
    }
  });
});
