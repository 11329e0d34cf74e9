/**
 * aTLAS in float64 on the CPU: the composed block and the coefficient gradients, as the kernels
 * in compose.wgsl compute them in f32. Layout as on the GPU: τ (T, n) row-major per block, λ
 * (blocks, T, K).
 */
import { blockGroups } from './groups';
import type { BlockLayout } from './kernels';

/** θ[e] = θ₀[e] + Σ_t λ[b, t, g(e)]·τ[t, e]. */
export function composeBlock64(l: BlockLayout, theta0: ArrayLike<number>, tau: ArrayLike<number>, lambda: ArrayLike<number>): Float64Array {
  const g = blockGroups(l.seed, l.block, l.n, l.groups);
  const off = l.block * l.tasks * l.groups;
  const out = new Float64Array(l.n);
  for (let e = 0; e < l.n; e++) {
    let s = 0;
    for (let t = 0; t < l.tasks; t++) s += lambda[off + t * l.groups + g[e]] * tau[t * l.n + e];
    out[e] = theta0[e] + s;
  }
  return out;
}

/** ∂L/∂λ[b, t, k] = Σ_{e: g(e)=k} dθ[e]·τ[t, e], as a (T, K) array for this block. */
export function composeGrad64(l: BlockLayout, dTheta: ArrayLike<number>, tau: ArrayLike<number>): Float64Array {
  const g = blockGroups(l.seed, l.block, l.n, l.groups);
  const out = new Float64Array(l.tasks * l.groups);
  for (let t = 0; t < l.tasks; t++) {
    for (let e = 0; e < l.n; e++) out[t * l.groups + g[e]] += dTheta[e] * tau[t * l.n + e];
  }
  return out;
}
