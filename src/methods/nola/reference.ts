/**
 * Float64 reference for NOLA (Koohpayegani et al., code UCDvision/NOLA): the LoRA factors are
 * mixtures of frozen random bases, A = Σ_i α_i A_i (I × rank) and B = Σ_j β_j B_j (rank × O), and
 * the layer gains y += s·(x·A)·B with s = c / rank, i.e. ΔW = s·(A·B)ᵀ (O × I).
 *
 * Bases are flat row-major arrays of shape (k, E): basis i occupies [i·E, (i+1)·E), laid out as
 * A_i[p, r] at p·rank + r (E = I·rank) and B_j[r, o] at r·O + o (E = rank·O), the same layout as
 * NOLA's (ka, D, rank) and (kb, rank, d) tensors.
 */
import { mat, matmul64, transpose, type Mat } from '../../engine/reference/linalg';

/** Σ_i coef[i] · basis_i, a vector of length E. */
export function nolaMix64(bases: ArrayLike<number>, coef: ArrayLike<number>, E: number): Float64Array {
  const k = coef.length;
  if (bases.length !== k * E) throw new Error(`nolaMix64: ${bases.length} basis values for k=${k}, E=${E}`);
  const out = new Float64Array(E);
  for (let i = 0; i < k; i++) {
    const c = coef[i];
    for (let e = 0; e < E; e++) out[e] += c * bases[i * E + e];
  }
  return out;
}

/** ⟨basis_i, v⟩ for every basis i: the gradient of a mixing coefficient given that of the mixture. */
export function nolaProject64(bases: ArrayLike<number>, v: ArrayLike<number>, k: number): Float64Array {
  const E = v.length;
  if (bases.length !== k * E) throw new Error(`nolaProject64: ${bases.length} basis values for k=${k}, E=${E}`);
  const out = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let s = 0;
    for (let e = 0; e < E; e++) s += bases[i * E + e] * v[e];
    out[i] = s;
  }
  return out;
}

export interface NolaProblem64 {
  I: number;
  O: number;
  rank: number;
  /** c / rank. */
  scale: number;
  /** (ka, I·rank) and (kb, rank·O), row-major. */
  basesA: ArrayLike<number>;
  basesB: ArrayLike<number>;
  alpha: ArrayLike<number>;
  beta: ArrayLike<number>;
}

export interface NolaFactors64 {
  A: Mat; // I × rank
  B: Mat; // rank × O
}

export function nolaFactors64(p: NolaProblem64): NolaFactors64 {
  return {
    A: mat(p.I, p.rank, nolaMix64(p.basesA, p.alpha, p.I * p.rank)),
    B: mat(p.rank, p.O, nolaMix64(p.basesB, p.beta, p.rank * p.O)),
  };
}

/** ΔW = s·(A·B)ᵀ, shape O × I. */
export function nolaDeltaW64(p: NolaProblem64): Mat {
  const { A, B } = nolaFactors64(p);
  const d = transpose(matmul64(A, B));
  for (let i = 0; i < d.data.length; i++) d.data[i] *= p.scale;
  return d;
}

/** The contribution x·ΔWᵀ = s·(x·A)·B for x of shape N × I, computed through the low-rank path. */
export function nolaForward64(p: NolaProblem64, x: Mat): Mat {
  const { A, B } = nolaFactors64(p);
  const y = matmul64(matmul64(x, A), B);
  for (let i = 0; i < y.data.length; i++) y.data[i] *= p.scale;
  return y;
}

export interface NolaGrads64 {
  dAlpha: Float64Array;
  dBeta: Float64Array;
  /** dY·ΔW (N × I), the method's share of the input gradient. */
  dx: Mat;
  /** Gradients of the mixed factors, for kernels that expose them. */
  dA: Mat;
  dB: Mat;
}

/**
 * Analytic gradients of L = Σ G ⊙ (x·ΔWᵀ): with g = G·Bᵀ, dA = s·xᵀ·g, dB = s·(x·A)ᵀ·G,
 * dα_i = ⟨A_i, dA⟩, dβ_j = ⟨B_j, dB⟩ and dx = s·g·Aᵀ.
 */
export function nolaGrads64(p: NolaProblem64, x: Mat, G: Mat): NolaGrads64 {
  const { A, B } = nolaFactors64(p);
  const g = matmul64(G, transpose(B)); // N × rank
  const dA = matmul64(transpose(x), g);
  const dB = matmul64(transpose(matmul64(x, A)), G);
  const dx = matmul64(g, transpose(A));
  for (const m of [dA, dB, dx]) for (let i = 0; i < m.data.length; i++) m.data[i] *= p.scale;
  return {
    dAlpha: nolaProject64(p.basesA, dA.data, p.alpha.length),
    dBeta: nolaProject64(p.basesB, dB.data, p.beta.length),
    dx,
    dA,
    dB,
  };
}

/** L = Σ G ⊙ (x·ΔWᵀ), the scalar the finite-difference checks differentiate. */
export function nolaLoss64(p: NolaProblem64, x: Mat, G: Mat): number {
  const y = nolaForward64(p, x);
  let s = 0;
  for (let i = 0; i < y.data.length; i++) s += G.data[i] * y.data[i];
  return s;
}
