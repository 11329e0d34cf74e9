/**
 * Float64 references for the element-wise ops (src/engine/ops/elementwise.ts). Flat
 * Float64Arrays; derivatives are written out analytically and checked against finite
 * differences in the tests.
 */
import { erf64 } from './linalg';

export function gelu64(x: number): number {
  return 0.5 * x * (1 + erf64(x / Math.SQRT2));
}

/** d/dx x·Φ(x) = Φ(x) + x·φ(x). */
export function geluGrad64(x: number): number {
  const cdf = 0.5 * (1 + erf64(x / Math.SQRT2));
  const pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  return cdf + x * pdf;
}

function sigmoid64(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function quickGelu64(x: number): number {
  return x * sigmoid64(1.702 * x);
}

/** d/dx x·σ(1.702x) = σ + 1.702·x·σ·(1 − σ). */
export function quickGeluGrad64(x: number): number {
  const s = sigmoid64(1.702 * x);
  return s + 1.702 * x * s * (1 - s);
}

export type Activation64 = 'gelu' | 'quick_gelu';

export function activationForward64(x: ArrayLike<number>, act: Activation64): Float64Array {
  const f = act === 'gelu' ? gelu64 : quickGelu64;
  return Float64Array.from(x, f);
}

/** dX = dY ⊙ f'(x). */
export function activationBackward64(x: ArrayLike<number>, dy: ArrayLike<number>, act: Activation64): Float64Array {
  const g = act === 'gelu' ? geluGrad64 : quickGeluGrad64;
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = dy[i] * g(x[i]);
  return out;
}

/** x (rows, cols) + bias (cols) on every row. */
export function biasAdd64(x: ArrayLike<number>, bias: ArrayLike<number>): Float64Array {
  const n = bias.length;
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] + bias[i % n];
  return out;
}
