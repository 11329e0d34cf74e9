import { describe, expect, it } from 'vitest';
import { decadeTicks, ema, latestSpectrum, mergeSeries, spectrumRows } from './series';
import type { Spectrum } from '../../train/rank';

describe('chart series', () => {
  it('ema: weight 0 is the raw series, and the first value is not pulled toward zero', () => {
    expect(ema([3, 1, 2], 0)).toEqual([3, 1, 2]);
    const s = ema([4, 4, 4, 0], 0.5);
    expect(s[0]).toBeCloseTo(4);
    expect(s[2]).toBeCloseTo(4);
    // Debiased: (0.5·(0.5·(0.5·4·0.5…))) — after a drop to 0 the average moves about half way.
    expect(s[3]).toBeGreaterThan(0);
    expect(s[3]).toBeLessThan(4);
    expect(s[3]).toBeCloseTo((0.5 * (0.5 * (0.5 * 2 + 2) + 2)) / (0.5 * (0.5 * (0.5 * 0.5 + 0.5) + 0.5) + 0.5), 10);
  });

  it('mergeSeries: one row per x, sorted, with null where a run has no value', () => {
    const rows = mergeSeries([
      { key: 's0', points: [{ x: 2, y: 1 }, { x: 4, y: 0.5 }] },
      { key: 's1', points: [{ x: 1, y: 3 }, { x: 4, y: 2 }] },
    ]);
    expect(rows).toEqual([
      { x: 1, s0: null, s1: 3 },
      { x: 2, s0: 1, s1: null },
      { x: 4, s0: 0.5, s1: 2 },
    ]);
  });

  it('spectrumRows: values under the floor are drawn on it, exact values kept for tooltips', () => {
    const { rows, floor, top } = spectrumRows([
      { key: 's0', values: [2, 1, 0, 0] },
      { key: 's1', values: [1.5, 1, 0.5, 0.25] },
    ]);
    expect(top).toBe(2);
    expect(floor).toBeLessThanOrEqual(2e-6);
    expect(floor).toBeGreaterThan(1e-7);
    expect(rows).toHaveLength(4);
    expect(rows[2]).toMatchObject({ x: 3, s0: floor, s0_exact: 0, s1: 0.5, s1_exact: 0.5 });
    const ticks = decadeTicks(floor, top);
    expect(ticks[0]).toBeCloseTo(floor);
    expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(2);
  });

  it('latestSpectrum picks the last one reported for the layer', () => {
    const sp = (module: string, v: number): Spectrum => ({ module, rows: 2, cols: 2, singularValues: [v], numericalRank: 1, effectiveRank: 1, stableRank: 1 });
    const list = [
      { step: 2, spectrum: sp('a', 1) },
      { step: 2, spectrum: sp('b', 2) },
      { step: 4, spectrum: sp('a', 3) },
    ];
    expect(latestSpectrum(list, 'a')?.spectrum.singularValues).toEqual([3]);
    expect(latestSpectrum(list, 'b')?.step).toBe(2);
    expect(latestSpectrum(list, 'c')).toBeUndefined();
  });
});
