import { EigenvalueDecomposition, Matrix, QrDecomposition } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { cachedLeftBasis, countIntruders, layerIntruders, leftBasis, totalIntruders } from './intruders';

/** A seeded orthonormal n × n matrix (QR of a pseudo-random one). */
function orthonormal(n: number, seed: number): Matrix {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  const m = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m.set(i, j, rnd());
  return new QrDecomposition(m).orthogonalMatrix;
}

/** W = U·diag(s)·Vᵀ (first s.length columns), row-major, with the factors kept for the expectations. */
function built(rows: number, cols: number, s: number[], seed: number) {
  const U = orthonormal(rows, seed);
  const V = orthonormal(cols, seed + 1);
  const W = new Matrix(rows, cols);
  s.forEach((sv, c) => {
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) W.set(i, j, W.get(i, j) + sv * U.get(i, c) * V.get(j, c));
  });
  return { U, V, W };
}

/**
 * Independent float64 reference: left singular vectors are the eigenvectors of W·Wᵀ (by decreasing
 * eigenvalue); returns the largest |cos| of each of W1's top k with all of W0's nonzero ones.
 */
function referenceCosines(W0: Matrix, W1: Matrix, k: number): number[] {
  const vecs = (W: Matrix) => {
    const e = new EigenvalueDecomposition(W.mmul(W.transpose()), { assumeSymmetric: true });
    const order = e.realEigenvalues.map((_, i) => i).sort((a, b) => e.realEigenvalues[b] - e.realEigenvalues[a]);
    return order.slice(0, Math.min(W.rows, W.columns)).map((c) => e.eigenvectorMatrix.getColumn(c));
  };
  const u0 = vecs(W0);
  return vecs(W1)
    .slice(0, k)
    .map((a) => Math.max(...u0.map((b) => Math.abs(a.reduce((s, x, i) => s + x * b[i], 0)))));
}

const flat = (m: Matrix) => Float64Array.from(m.to1DArray());

/** W + scale·u·vᵀ */
function plusRank1(W: Matrix, u: number[], v: number[], scale: number): Matrix {
  const out = W.clone();
  for (let i = 0; i < W.rows; i++) for (let j = 0; j < W.columns; j++) out.set(i, j, out.get(i, j) + scale * u[i] * v[j]);
  return out;
}

describe('layerIntruders', () => {
  // Distinct singular values 12, 11, …, 1 so the ordering of W0's directions is unambiguous.
  const sv = Array.from({ length: 12 }, (_, i) => 12 - i);

  it('a scaled W0 has no intruders: every top direction is one of W0’s (|cos| = 1)', () => {
    const { W } = built(12, 20, sv, 3);
    const l = layerIntruders('q', flat(W), flat(W.clone().mul(1.1)), 12, 20);
    expect(l.k).toBe(10);
    for (const c of l.topCosines) expect(c).toBeCloseTo(1, 9);
    expect(countIntruders(l)).toBe(0);
  });

  it('a strong rank-1 update along a mix of W0’s weakest directions is an intruder', () => {
    const { U, V, W } = built(12, 20, sv, 7);
    // u spreads evenly over W0's six weakest left vectors: |cos| = 1/√6 ≈ 0.408 with each, 0 with the rest.
    const u = Array.from({ length: 12 }, (_, i) => [6, 7, 8, 9, 10, 11].reduce((a, c) => a + U.get(i, c) / Math.sqrt(6), 0));
    const v = Array.from({ length: 20 }, (_, j) => V.get(j, 15)); // a direction W0 does not read from
    const W1 = plusRank1(W, u, v, 40);
    const l = layerIntruders('q', flat(W), flat(W1), 12, 20);
    // The update (40) dominates W0 (≤ 12), so W1's top vector is u tilted a little toward W0's stronger directions.
    expect(l.topCosines[0]).toBeGreaterThan(1 / Math.sqrt(6) - 0.02);
    expect(l.topCosines[0]).toBeLessThan(0.45);
    const ref = referenceCosines(W, W1, 10);
    l.topCosines.forEach((c, i) => expect(c).toBeCloseTo(ref[i], 8));
    expect(countIntruders(l)).toBe(1);
    // Recounting under another ε needs no SVD: at ε = 0.4 it is no longer below the threshold.
    expect(countIntruders(l, 0.4)).toBe(0);
  });

  it('a tall layer: an update outside W0’s column space is an intruder', () => {
    // out = 16 > in = 6: W0's six left vectors span only part of R^16.
    const { U, V, W } = built(16, 6, sv.slice(0, 6), 11);
    const u = Array.from({ length: 16 }, (_, i) => U.get(i, 12));
    const v = Array.from({ length: 6 }, (_, j) => V.get(j, 0));
    const l = layerIntruders('fc', flat(W), flat(plusRank1(W, u, v, 50)), 16, 6);
    expect(l.k).toBe(6); // only min(out, in) directions exist
    // W0ᵀu = 0, so W1's top left vector is (12·u0 + 50·u)/√(12² + 50²): |cos| with u0 = 12/√2644, 0 with the others.
    expect(l.topCosines[0]).toBeCloseTo(12 / Math.sqrt(2644), 9);
    expect(countIntruders(l)).toBeGreaterThanOrEqual(1);
    expect(totalIntruders([l, l])).toBe(2 * countIntruders(l));
  });

  it('a small update leaves the top directions in place', () => {
    const { U, V, W } = built(12, 20, sv, 5);
    const u = Array.from({ length: 12 }, (_, i) => U.get(i, 11));
    const v = Array.from({ length: 20 }, (_, j) => V.get(j, 19));
    const l = layerIntruders('q', flat(W), flat(plusRank1(W, u, v, 0.01)), 12, 20);
    expect(countIntruders(l)).toBe(0);
  });

  it('reuses a cached W0 basis per owner and module', async () => {
    const { W } = built(12, 20, sv, 9);
    const owner = {};
    let loads = 0;
    const load = () => {
      loads++;
      return flat(W);
    };
    const a = await cachedLeftBasis(owner, 'q', load, 12, 20);
    const b = await cachedLeftBasis(owner, 'q', load, 12, 20);
    expect(b).toBe(a);
    expect(loads).toBe(1);
    const direct = leftBasis(flat(W), 12, 20);
    // Same subspace column by column (signs may differ).
    for (let c = 0; c < 12; c++) {
      let dot = 0;
      for (let r = 0; r < 12; r++) dot += a.U.get(r, c) * direct.U.get(r, c);
      expect(Math.abs(dot)).toBeCloseTo(1, 9);
    }
    const l = layerIntruders('q', new Float64Array(0), flat(W.clone().mul(2)), 12, 20, 10, a);
    expect(countIntruders(l)).toBe(0);
  });

  it('names the layer when a weight has the wrong size', () => {
    expect(() => layerIntruders('vit.encoder.layer.0.attention.attention.query', new Float64Array(5), new Float64Array(6), 2, 3)).toThrow(/query \(W0\): 5 values for a 2×3/);
  });
});
