/**
 * Central finite differences on float64 reference functions, the ground truth that every
 * analytic backward (CPU reference, then GPU) is measured against.
 */
import { randomArray } from '../engine/random';

/**
 * ∂f/∂x by central differences, (f(x + h·e_i) − f(x − h·e_i)) / 2h for every i (or the listed
 * indices). The truncation error is O(h²·f‴) and the rounding error O(ε·|f|/h): with h = 1e-5
 * both are near 1e-10 for the O(1) functions tests use.
 */
export function numericGradient(f: (x: Float64Array) => number, x: Float64Array, h = 1e-5, indices?: readonly number[]): Float64Array {
  const g = new Float64Array(x.length);
  const xs = x.slice();
  for (const i of indices ?? x.keys()) {
    const keep = xs[i];
    xs[i] = keep + h;
    const up = f(xs);
    xs[i] = keep - h;
    const down = f(xs);
    xs[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** Σ y ⊙ w: turns a tensor-valued function into the scalar loss whose gradient wrt y is w. */
export function dot64(y: ArrayLike<number>, w: ArrayLike<number>): number {
  if (y.length !== w.length) throw new Error(`dot64: lengths ${y.length} and ${w.length}`);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * w[i];
  return s;
}

/** A seeded random cotangent (dY) for gradient checks, uniform on [-1, 1). */
export function cotangent(n: number, seed: number): Float64Array {
  return randomArray(n, seed, 0xc07a, { kind: 'uniform', lo: -1, hi: 1 });
}

/** Rounds float64 test data to the f32 values the GPU will hold, so both sides start equal. */
export function f32Round(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(x));
}

/** Largest |a − b| over the largest |b| (or 1e-30): the relative error used in gradient checks. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, indices?: readonly number[]): number {
  let m = 1e-30;
  let e = 0;
  const idx = indices ?? Array.from({ length: b.length }, (_, i) => i);
  for (const i of idx) m = Math.max(m, Math.abs(b[i]));
  for (const i of idx) {
    const d = Math.abs(a[i] - b[i]);
    e = Number.isNaN(d) ? Infinity : Math.max(e, d);
  }
  return e / m;
}
