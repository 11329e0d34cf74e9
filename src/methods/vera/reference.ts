/**
 * Float64 reference for VeRA: ΔW = diag(λ_b)·B_s·diag(λ_d)·A_s with A_s = vera_A[:, :I] and
 * B_s = vera_B[:O, :], its forward contribution, and the analytic gradients of L = Σ G⊙y for a
 * given G = dY. The gradients go through dL/dΔW = Gᵀ·x, a different route from the GPU's.
 */
import { mat, matmul64, transpose, type Mat } from '../../engine/reference/linalg';

export interface VeraRef {
  /** vera_A (r, I_max) */
  A: Mat;
  /** vera_B (O_max, r) */
  B: Mat;
  /** λ_b (O) */
  lambdaB: Float64Array;
  /** λ_d (r) */
  lambdaD: Float64Array;
  /** The layer's input features I ≤ I_max. */
  I: number;
}

export function veraSlices64(p: VeraRef): { As: Mat; Bs: Mat } {
  const r = p.A.rows;
  const O = p.lambdaB.length;
  if (p.B.cols !== r || p.lambdaD.length !== r || p.I > p.A.cols || O > p.B.rows) {
    throw new Error('veraSlices64: inconsistent shapes');
  }
  const As = mat(r, p.I);
  for (let k = 0; k < r; k++) for (let i = 0; i < p.I; i++) As.data[k * p.I + i] = p.A.data[k * p.A.cols + i];
  const Bs = mat(O, r, p.B.data.subarray(0, O * r));
  return { As, Bs };
}

/** ΔW[o, i] = λ_b[o]·Σ_k B_s[o,k]·λ_d[k]·A_s[k,i]. */
export function veraDeltaW64(p: VeraRef): Mat {
  const { As, Bs } = veraSlices64(p);
  const r = As.rows;
  const scaled = mat(Bs.rows, r);
  for (let o = 0; o < Bs.rows; o++) {
    for (let k = 0; k < r; k++) scaled.data[o * r + k] = p.lambdaB[o] * Bs.data[o * r + k] * p.lambdaD[k];
  }
  return matmul64(scaled, As);
}

/** x·ΔWᵀ (N, O) through the dense ΔW. */
export function veraContribution64(x: Mat, p: VeraRef): Mat {
  return matmul64(x, transpose(veraDeltaW64(p)));
}

export function veraLoss64(x: Mat, G: Mat, p: VeraRef): number {
  const y = veraContribution64(x, p);
  let L = 0;
  for (let i = 0; i < y.data.length; i++) L += G.data[i] * y.data[i];
  return L;
}

export interface VeraRefGrads {
  dLambdaB: Float64Array;
  dLambdaD: Float64Array;
  /** dL/dx = G·ΔW (N, I) */
  dx: Mat;
}

/**
 * With P = dL/dΔW = Gᵀ·x (O, I):
 *   dλ_b[o] = Σ_{k,i} P[o,i]·B_s[o,k]·λ_d[k]·A_s[k,i]
 *   dλ_d[k] = Σ_{o,i} P[o,i]·λ_b[o]·B_s[o,k]·A_s[k,i]
 */
export function veraGrads64(x: Mat, G: Mat, p: VeraRef): VeraRefGrads {
  const { As, Bs } = veraSlices64(p);
  const r = As.rows;
  const O = Bs.rows;
  const I = p.I;
  const P = matmul64(transpose(G), x);
  // Q = P·A_sᵀ (O, r): Q[o,k] = Σ_i P[o,i]·A_s[k,i].
  const Q = matmul64(P, transpose(As));
  const dLambdaB = new Float64Array(O);
  const dLambdaD = new Float64Array(r);
  for (let o = 0; o < O; o++) {
    for (let k = 0; k < r; k++) {
      const q = Q.data[o * r + k] * Bs.data[o * r + k];
      dLambdaB[o] += q * p.lambdaD[k];
      dLambdaD[k] += q * p.lambdaB[o];
    }
  }
  if (x.cols !== I) throw new Error(`veraGrads64: x has ${x.cols} columns, the layer ${I}`);
  return { dLambdaB, dLambdaD, dx: matmul64(G, veraDeltaW64(p)) };
}
