/**
 * Float64 reference for multi-head self-attention on (B, T, H·d) inputs in HF's head layout
 * (head h = hidden columns h·d … h·d + d − 1), written directly on that layout with no
 * permutes, so it checks the GPU's split / merge kernels as well as the arithmetic.
 */
export interface AttentionDims {
  batch: number;
  tokens: number;
  heads: number;
  headDim: number;
  /** Default 1/√headDim. */
  scale?: number;
  /** Token i attends only to tokens j ≤ i (transformers' causal mask for CLIP's text tower). */
  causal?: boolean;
}

export interface Attention64 {
  out: Float64Array;
  /** softmax probabilities, (B, H, T, T). */
  probs: Float64Array;
}

export function attention64(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, dm: AttentionDims): Attention64 {
  const { batch: B, tokens: T, heads: H, headDim: d } = dm;
  const scale = dm.scale ?? 1 / Math.sqrt(d);
  const D = H * d;
  const out = new Float64Array(B * T * D);
  const probs = new Float64Array(B * H * T * T);
  const at = (b: number, t: number, h: number, e: number) => (b * T + t) * D + h * d + e;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const row = ((b * H + h) * T + i) * T;
        let m = -Infinity;
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let e = 0; e < d; e++) s += q[at(b, i, h, e)] * k[at(b, j, h, e)];
          probs[row + j] = dm.causal && j > i ? -Infinity : s * scale;
          m = Math.max(m, probs[row + j]);
        }
        let z = 0;
        for (let j = 0; j < T; j++) z += probs[row + j] = Math.exp(probs[row + j] - m);
        for (let j = 0; j < T; j++) probs[row + j] /= z;
        for (let e = 0; e < d; e++) {
          let s = 0;
          for (let j = 0; j < T; j++) s += probs[row + j] * v[at(b, j, h, e)];
          out[at(b, i, h, e)] = s;
        }
      }
    }
  }
  return { out, probs };
}

export interface AttentionGrads64 {
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
}

/** dP = dO·vᵀ, dv = Pᵀ·dO, dS = P ⊙ (dP − Σ dP ⊙ P), dq = scale·dS·k, dk = scale·dSᵀ·q (per head). */
export function attentionBackward64(
  dOut: ArrayLike<number>,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dm: AttentionDims,
): AttentionGrads64 {
  const { batch: B, tokens: T, heads: H, headDim: d } = dm;
  const scale = dm.scale ?? 1 / Math.sqrt(d);
  const D = H * d;
  const { probs } = attention64(q, k, v, dm);
  const dq = new Float64Array(B * T * D);
  const dk = new Float64Array(B * T * D);
  const dv = new Float64Array(B * T * D);
  const at = (b: number, t: number, h: number, e: number) => (b * T + t) * D + h * d + e;
  const dS = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const row = ((b * H + h) * T + i) * T;
        let c = 0;
        for (let j = 0; j < T; j++) {
          let dp = 0;
          for (let e = 0; e < d; e++) dp += dOut[at(b, i, h, e)] * v[at(b, j, h, e)];
          dS[j] = dp;
          c += dp * probs[row + j];
          for (let e = 0; e < d; e++) dv[at(b, j, h, e)] += probs[row + j] * dOut[at(b, i, h, e)];
        }
        for (let j = 0; j < T; j++) {
          const s = probs[row + j] * (dS[j] - c) * scale;
          for (let e = 0; e < d; e++) {
            dq[at(b, i, h, e)] += s * k[at(b, j, h, e)];
            dk[at(b, j, h, e)] += s * q[at(b, i, h, e)];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
