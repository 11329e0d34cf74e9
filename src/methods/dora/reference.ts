/**
 * Float64 reference for DoRA, written the obvious way through the dense merged weight:
 *   Wp = W0 + s·B·A,  n[o] = ‖Wp[o, :]‖,  W' = diag(m / n)·Wp,  y = x·W'ᵀ + b,
 * and the gradients of L = Σ G⊙y with n treated as a constant (PEFT detaches it, paper §4.3).
 * `norm` overrides n, so finite differences of `doraLoss64` with n frozen check the gradients.
 */
import { matmul64, transpose, mat, type Mat } from '../../engine/reference/linalg';

export interface DoraRef {
  W0: Mat;
  bias?: Float64Array;
  /** (r, I) */
  A: Mat;
  /** (O, r) */
  B: Mat;
  scale: number;
  /** (O) */
  m: Float64Array;
}

export function adapted64(p: DoraRef): Mat {
  const BA = matmul64(p.B, p.A);
  return mat(p.W0.rows, p.W0.cols, p.W0.data.map((w, i) => w + p.scale * BA.data[i]));
}

export function rowNorms64(W: Mat): Float64Array {
  const n = new Float64Array(W.rows);
  for (let o = 0; o < W.rows; o++) {
    let s = 0;
    for (let i = 0; i < W.cols; i++) s += W.data[o * W.cols + i] ** 2;
    n[o] = Math.sqrt(s);
  }
  return n;
}

/** W' = diag(m / n)·(W0 + s·B·A). */
export function doraMerged64(p: DoraRef, norm = rowNorms64(adapted64(p))): Mat {
  const Wp = adapted64(p);
  return mat(Wp.rows, Wp.cols, Wp.data.map((v, i) => (p.m[Math.floor(i / Wp.cols)] / norm[Math.floor(i / Wp.cols)]) * v));
}

/** y = x·W'ᵀ + b (N, O). */
export function doraForward64(x: Mat, p: DoraRef, norm?: Float64Array): Mat {
  const y = matmul64(x, transpose(doraMerged64(p, norm)));
  if (p.bias) for (let i = 0; i < y.data.length; i++) y.data[i] += p.bias[i % y.cols];
  return y;
}

export function doraLoss64(x: Mat, G: Mat, p: DoraRef, norm?: Float64Array): number {
  const y = doraForward64(x, p, norm);
  let L = 0;
  for (let i = 0; i < y.data.length; i++) L += G.data[i] * y.data[i];
  return L;
}

export interface DoraRefGrads {
  dA: Mat;
  dB: Mat;
  dm: Float64Array;
  /** dL/dx = G·W' (N, I) */
  dx: Mat;
}

/**
 * With D = Gᵀ·x (O, I) = dL/dW' and g = m / n: dm[o] = Σ_i D[o,i]·Wp[o,i] / n[o],
 * dWp = diag(g)·D, dA = s·Bᵀ·dWp, dB = s·dWp·Aᵀ, dx = G·W'.
 */
export function doraGrads64(x: Mat, G: Mat, p: DoraRef): DoraRefGrads {
  const Wp = adapted64(p);
  const n = rowNorms64(Wp);
  const D = matmul64(transpose(G), x);
  const O = Wp.rows;
  const I = Wp.cols;
  const dm = new Float64Array(O);
  const dWp = mat(O, I);
  for (let o = 0; o < O; o++) {
    let s = 0;
    for (let i = 0; i < I; i++) {
      s += D.data[o * I + i] * Wp.data[o * I + i];
      dWp.data[o * I + i] = (p.m[o] / n[o]) * D.data[o * I + i];
    }
    dm[o] = s / n[o];
  }
  const dA = matmul64(transpose(p.B), dWp);
  const dB = matmul64(dWp, transpose(p.A));
  for (const t of [dA, dB]) for (let i = 0; i < t.data.length; i++) t.data[i] *= p.scale;
  return { dA, dB, dm, dx: matmul64(G, doraMerged64(p)) };
}
