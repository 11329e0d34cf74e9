/**
 * Float64 references for the embedding stage: the patch convolution computed directly as a
 * strided Conv2d (not through im2col, so the GPU's patch flattening is checked independently),
 * and the class-token concat plus position-embedding add.
 */
export interface ConvDims {
  batch: number;
  channels: number;
  height: number;
  width: number;
  hidden: number;
  patch: number;
}

/** Conv2d(kernel = stride = p) → (B, gh·gw, hidden), patches in row-major grid order. */
export function patchEmbed64(img: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | undefined, d: ConvDims): Float64Array {
  const { batch: B, channels: C, height: H, width: W, hidden: O, patch: p } = d;
  const gh = Math.floor(H / p);
  const gw = Math.floor(W / p);
  const out = new Float64Array(B * gh * gw * O);
  for (let b = 0; b < B; b++)
    for (let py = 0; py < gh; py++)
      for (let px = 0; px < gw; px++)
        for (let o = 0; o < O; o++) {
          let s = bias ? bias[o] : 0;
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < p; ky++)
              for (let kx = 0; kx < p; kx++)
                s += w[((o * C + c) * p + ky) * p + kx] * img[((b * C + c) * H + py * p + ky) * W + px * p + kx];
          out[((b * gh + py) * gw + px) * O + o] = s;
        }
  return out;
}

/** dweight (hidden, C, p, p) and dbias (hidden) from dY (B, gh·gw, hidden). */
export function patchEmbedBackward64(dy: ArrayLike<number>, img: ArrayLike<number>, d: ConvDims): { dw: Float64Array; db: Float64Array } {
  const { batch: B, channels: C, height: H, width: W, hidden: O, patch: p } = d;
  const gh = Math.floor(H / p);
  const gw = Math.floor(W / p);
  const dw = new Float64Array(O * C * p * p);
  const db = new Float64Array(O);
  for (let b = 0; b < B; b++)
    for (let py = 0; py < gh; py++)
      for (let px = 0; px < gw; px++)
        for (let o = 0; o < O; o++) {
          const g = dy[((b * gh + py) * gw + px) * O + o];
          db[o] += g;
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < p; ky++)
              for (let kx = 0; kx < p; kx++)
                dw[((o * C + c) * p + ky) * p + kx] += g * img[((b * C + c) * H + py * p + ky) * W + px * p + kx];
        }
  return { dw, db };
}

/** out[b] = concat(prefix (P, D), patches[b] (Np, D)) + pos ((P + Np), D). */
export function embedTokens64(patches: ArrayLike<number>, prefix: ArrayLike<number>, pos: ArrayLike<number> | undefined, B: number, Np: number, D: number): Float64Array {
  const P = prefix.length / D;
  const T = P + Np;
  const out = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let j = 0; j < D; j++) {
        const v = t < P ? prefix[t * D + j] : patches[(b * Np + t - P) * D + j];
        out[(b * T + t) * D + j] = v + (pos ? pos[t * D + j] : 0);
      }
  return out;
}

export function embedTokensBackward64(dOut: ArrayLike<number>, B: number, T: number, D: number, P: number): { dPatch: Float64Array; dPrefix: Float64Array; dPos: Float64Array } {
  const Np = T - P;
  const dPatch = new Float64Array(B * Np * D);
  const dPrefix = new Float64Array(P * D);
  const dPos = new Float64Array(T * D);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let j = 0; j < D; j++) {
        const g = dOut[(b * T + t) * D + j];
        dPos[t * D + j] += g;
        if (t < P) dPrefix[t * D + j] += g;
        else dPatch[(b * Np + t - P) * D + j] = g;
      }
  return { dPatch, dPrefix, dPos };
}
