/**
 * Float64 reference for LoRA: ΔW = s·B·A, its forward contribution and the analytic gradients
 * of L = Σ G⊙y for a given G = dY. Written the obvious way, independently of the GPU route.
 */
import { matmul64, scale, transpose, type Mat } from '../../engine/reference/linalg';

export interface LoraRef {
  /** (r, I) */
  A: Mat;
  /** (O, r) */
  B: Mat;
  scale: number;
}

export function loraDeltaW64(p: LoraRef): Mat {
  return scale(matmul64(p.B, p.A), p.scale);
}

/** x·ΔWᵀ (N, O), computed through the dense ΔW. */
export function loraContribution64(x: Mat, p: LoraRef): Mat {
  return matmul64(x, transpose(loraDeltaW64(p)));
}

/** L = Σ G⊙(x·ΔWᵀ). */
export function loraLoss64(x: Mat, G: Mat, p: LoraRef): number {
  const y = loraContribution64(x, p);
  let L = 0;
  for (let i = 0; i < y.data.length; i++) L += G.data[i] * y.data[i];
  return L;
}

export interface LoraRefGrads {
  dA: Mat;
  dB: Mat;
  /** dL/dx = G·ΔW (N, I) */
  dx: Mat;
}

/** dL/dB = s·Gᵀ·(x·Aᵀ), dL/dA = s·Bᵀ·Gᵀ·x, dL/dx = G·ΔW. */
export function loraGrads64(x: Mat, G: Mat, p: LoraRef): LoraRefGrads {
  const h = matmul64(x, transpose(p.A));
  const dB = scale(matmul64(transpose(G), h), p.scale);
  const dA = scale(matmul64(transpose(p.B), matmul64(transpose(G), x)), p.scale);
  const dx = matmul64(G, loraDeltaW64(p));
  return { dA, dB, dx };
}

export function loraRef(A: Mat, B: Mat, s: number): LoraRef {
  if (A.rows !== B.cols) throw new Error(`loraRef: A is ${A.rows}x${A.cols}, B is ${B.rows}x${B.cols}`);
  return { A, B, scale: s };
}
