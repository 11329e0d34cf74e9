import { describe, expect, it } from 'vitest';
import { learningRate } from './schedule';

describe('warmup + cosine schedule', () => {
  const s = { peak: 1e-3, warmupSteps: 10, totalSteps: 110 };
  it('ramps linearly to the peak, then decays to zero by a half cosine', () => {
    expect(learningRate(s, 0)).toBeCloseTo(1e-4, 12);
    expect(learningRate(s, 9)).toBeCloseTo(1e-3, 12);
    expect(learningRate(s, 10)).toBeCloseTo(1e-3, 12);
    expect(learningRate(s, 60)).toBeCloseTo(5e-4, 12);
    expect(learningRate(s, 110)).toBeCloseTo(0, 12);
    expect(learningRate({ ...s, minRatio: 0.1 }, 500)).toBeCloseTo(1e-4, 12);
  });
  it('is monotone after warmup', () => {
    for (let i = 10; i < 110; i++) expect(learningRate(s, i + 1)).toBeLessThanOrEqual(learningRate(s, i));
  });
});
