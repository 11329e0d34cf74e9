/**
 * Float64 reference for RandLoRA, written straight from PEFT's definitions (tuners/randlora:
 * UniqueBaseGrad, get_scaled_bases, get_delta_weight) with dense matrices and no shortcuts, so it
 * shares no structure with the fused kernels it checks. Independent of the GPU code on purpose.
 */
import { mat, matmul64, transpose, type Mat } from '../../engine/reference/linalg';

export interface RandLoraRefShape {
  O: number;
  I: number;
  r: number;
  /** Shared basis sizes: A is (r, 1, minDim), B is (maxDim, numBases, r). */
  minDim: number;
  maxDim: number;
  numBases: number;
}

export interface RandLoraRefTensors {
  /** randlora_A, flat (r, 1, minDim) */
  A: ArrayLike<number>;
  /** randlora_B, flat (maxDim, numBases, r) */
  B: ArrayLike<number>;
  /** (r, nb) */
  lambda: ArrayLike<number>;
  /** (nb, m) */
  gamma: ArrayLike<number>;
  /** alpha / r */
  scale: number;
}

export function refDims(d: RandLoraRefShape): { m: number; M: number; nb: number; J: number } {
  const m = Math.min(d.I, d.O);
  const nb = Math.ceil(m / d.r);
  return { m, M: Math.max(d.I, d.O), nb, J: d.r * nb };
}

/**
 * PEFT's update_A: (λ[:, :, None] · A[:, :nb, :m] · γ[None]).flatten(end_dim=1), row k·nb + n. A's
 * middle dimension has size 1, so that slice keeps it and the product broadcasts it over n.
 */
export function refS(d: RandLoraRefShape, t: RandLoraRefTensors): Mat {
  const { m, nb, J } = refDims(d);
  const S = mat(J, m);
  for (let k = 0; k < d.r; k++) {
    for (let n = 0; n < nb; n++) {
      for (let c = 0; c < m; c++) {
        S.data[(k * nb + n) * m + c] = t.lambda[k * nb + n] * t.A[k * d.minDim + c] * t.gamma[n * m + c];
      }
    }
  }
  return S;
}

/** PEFT's update_B: B[:M, :nb, :].flatten(start_dim=1), column n·r + k. */
export function refBf(d: RandLoraRefShape, t: RandLoraRefTensors): Mat {
  const { M, nb, J } = refDims(d);
  const Bf = mat(M, J);
  for (let i = 0; i < M; i++) {
    for (let n = 0; n < nb; n++) {
      for (let k = 0; k < d.r; k++) Bf.data[i * J + n * d.r + k] = t.B[(i * d.numBases + n) * d.r + k];
    }
  }
  return Bf;
}

/** ΔW (O x I), scale included: s·Bf·S when I <= O, s·(Bf·S)ᵀ when I > O. */
export function refDeltaW(d: RandLoraRefShape, t: RandLoraRefTensors): Mat {
  const P = matmul64(refBf(d, t), refS(d, t));
  const D = d.I <= d.O ? P : transpose(P);
  for (let i = 0; i < D.data.length; i++) D.data[i] *= t.scale;
  return D;
}

/** x·ΔWᵀ for x (N x I). */
export function refForward(d: RandLoraRefShape, t: RandLoraRefTensors, x: Mat): Mat {
  return matmul64(x, transpose(refDeltaW(d, t)));
}

/** L = Σ G ⊙ (x·ΔWᵀ), the loss whose gradients the backward kernels compute (G = dL/dy). */
export function refLoss(d: RandLoraRefShape, t: RandLoraRefTensors, x: Mat, G: Mat): number {
  const y = refForward(d, t, x);
  let L = 0;
  for (let i = 0; i < y.data.length; i++) L += G.data[i] * y.data[i];
  return L;
}

/**
 * Analytic gradients of refLoss: dL/dΔW = Gᵀ·x, pulled back through ΔW = s·Bf·S (or its
 * transpose) to dL/dS, then through S = λ·A·γ (PEFT's UniqueBaseGrad); dx = G·ΔW.
 */
export function refGrads(
  d: RandLoraRefShape,
  t: RandLoraRefTensors,
  x: Mat,
  G: Mat,
): { lambda: Float64Array; gamma: Float64Array; dx: Mat } {
  const { m, nb } = refDims(d);
  const dW = matmul64(transpose(G), x); // O x I
  const Bf = refBf(d, t);
  const dS = matmul64(transpose(Bf), d.I <= d.O ? dW : transpose(dW)); // J x m
  for (let i = 0; i < dS.data.length; i++) dS.data[i] *= t.scale;
  const lambda = new Float64Array(d.r * nb);
  const gamma = new Float64Array(nb * m);
  for (let k = 0; k < d.r; k++) {
    for (let n = 0; n < nb; n++) {
      const j = k * nb + n;
      for (let c = 0; c < m; c++) {
        const g = dS.data[j * m + c];
        const a = t.A[k * d.minDim + c];
        lambda[j] += g * a * t.gamma[n * m + c];
        gamma[n * m + c] += g * a * t.lambda[j];
      }
    }
  }
  return { lambda, gamma, dx: matmul64(G, refDeltaW(d, t)) };
}
