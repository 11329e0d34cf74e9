/**
 * Float64 references for torch.optim.AdamW's update and torch.nn.utils.clip_grad_norm_'s
 * global norm and clip coefficient.
 */
export interface AdamW64Options {
  lr: number;
  step: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Multiplies the gradient (accumulation averaging and clipping). */
  gradScale?: number;
}

/** One AdamW step in place on p, m, v. */
export function adamw64(p: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array, o: AdamW64Options): void {
  const b1 = o.beta1 ?? 0.9;
  const b2 = o.beta2 ?? 0.999;
  const eps = o.eps ?? 1e-8;
  const wd = o.weightDecay ?? 0.01;
  const s = o.gradScale ?? 1;
  const bc1 = 1 - b1 ** o.step;
  const bc2 = 1 - b2 ** o.step;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * s;
    p[i] *= 1 - o.lr * wd;
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    p[i] -= (o.lr / bc1) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps));
  }
}

/** ‖gradScale·g‖ over all tensors and the clip coefficient min(1, maxNorm / (‖g‖ + 1e-6)). */
export function gradNorm64(grads: ArrayLike<number>[], gradScale = 1, maxNorm = 0): { norm: number; clipScale: number } {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  const norm = gradScale * Math.sqrt(s);
  return { norm, clipScale: maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1 };
}
