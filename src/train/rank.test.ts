import { describe, expect, it } from 'vitest';
import { spectrumOf } from './rank';
import { randomArray } from '../engine/random';

function lowRank(rows: number, cols: number, r: number): Float64Array {
  const a = randomArray(rows * r, 1, 1, { kind: 'uniform', lo: -1, hi: 1 });
  const b = randomArray(r * cols, 1, 2, { kind: 'uniform', lo: -1, hi: 1 });
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let k = 0; k < r; k++) for (let j = 0; j < cols; j++) out[i * cols + j] += a[i * r + k] * b[k * cols + j];
  return out;
}

describe('update spectrum', () => {
  it('sees a rank-4 product as rank 4 and a random matrix as full rank', () => {
    const lr = spectrumOf('l', Float32Array.from(lowRank(40, 30, 4)), 40, 30);
    expect(lr.singularValues).toHaveLength(30);
    expect(lr.numericalRank).toBe(4);
    expect(lr.effectiveRank).toBeLessThan(4.01);
    expect(lr.stableRank).toBeLessThanOrEqual(4 + 1e-9);
    const full = spectrumOf('f', Float32Array.from(randomArray(40 * 30, 3, 3, { kind: 'uniform', lo: -1, hi: 1 })), 40, 30);
    expect(full.numericalRank).toBe(30);
    expect(full.effectiveRank).toBeGreaterThan(20);
  });

  it('gives the known values of a diagonal matrix', () => {
    const d = new Float64Array(9);
    d[0] = 3;
    d[4] = 1;
    const s = spectrumOf('d', d, 3, 3);
    expect(s.singularValues.map((v) => +v.toFixed(12))).toEqual([3, 1, 0]);
    expect(s.stableRank).toBeCloseTo(10 / 9, 12);
    const p = [0.75, 0.25];
    expect(s.effectiveRank).toBeCloseTo(Math.exp(-(p[0] * Math.log(p[0]) + p[1] * Math.log(p[1]))), 12);
    expect(spectrumOf('z', new Float64Array(4), 2, 2).numericalRank).toBe(0);
  });
});
