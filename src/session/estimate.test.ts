import { describe, expect, it } from 'vitest';
import { makeModel } from '../models/makeModel';
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
