/**
 * Float64 CPU references. Every GPU kernel is checked against these; they favour obviousness
 * over speed. Matrices are row-major Float64Arrays with explicit shapes.
 */
export interface Mat {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function mat(rows: number, cols: number, data?: ArrayLike<number>): Mat {
  const d = new Float64Array(rows * cols);
  if (data) {
    if (data.length !== rows * cols) throw new Error(`mat: ${data.length} values for ${rows}x${cols}`);
    d.set(data);
  }
  return { rows, cols, data: d };
}

export function transpose(a: Mat): Mat {
  const t = mat(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) t.data[j * a.rows + i] = a.data[i * a.cols + j];
  return t;
}

export function matmul64(a: Mat, b: Mat): Mat {
  if (a.cols !== b.rows) throw new Error(`matmul64: ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
  const c = mat(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const v = a.data[i * a.cols + k];
      if (v === 0) continue;
      for (let j = 0; j < b.cols; j++) c.data[i * b.cols + j] += v * b.data[k * b.cols + j];
    }
  }
  return c;
}

export function add(a: Mat, b: Mat, scaleB = 1): Mat {
  if (a.rows !== b.rows || a.cols !== b.cols) throw new Error('add: shapes differ');
  const c = mat(a.rows, a.cols);
  for (let i = 0; i < c.data.length; i++) c.data[i] = a.data[i] + scaleB * b.data[i];
  return c;
}

export function scale(a: Mat, s: number): Mat {
  const c = mat(a.rows, a.cols);
  for (let i = 0; i < c.data.length; i++) c.data[i] = s * a.data[i];
  return c;
}

/** Exact GELU with erf computed in float64 (series / continued fraction accuracy ~1e-15). */
export function erf64(x: number): number {
  // Abramowitz-Stegun is not good enough for a reference; use a high-precision series / asymptotic.
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    let sum = ax;
    let term = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc continued fraction (Lentz), accurate for large |x|.
    let f = ax;
    const tiny = 1e-300;
    let C = f;
    let D = 0;
    for (let n = 1; n < 300; n++) {
      const an = n / 2;
      D = ax + an * D;
      D = D === 0 ? tiny : 1 / D;
      C = ax + an / C;
      if (C === 0) C = tiny;
      const delta = C * D;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    r = 1 - Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * f);
  }
  return x < 0 ? -r : r;
}

export function activation64(v: number, act: 'none' | 'relu' | 'gelu' | 'quick_gelu'): number {
  switch (act) {
    case 'relu':
      return Math.max(0, v);
    case 'gelu':
      return 0.5 * v * (1 + erf64(v / Math.SQRT2));
    case 'quick_gelu':
      return v / (1 + Math.exp(-1.702 * v));
    default:
      return v;
  }
}

/** Largest |a - b| relative to the largest |b|, the error measure used by kernel tests. */
export function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`maxRelError: lengths ${got.length} and ${want.length}`);
  let scaleMax = 1e-30;
  let err = 0;
  for (let i = 0; i < want.length; i++) scaleMax = Math.max(scaleMax, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= err)) err = Number.isNaN(d) ? Infinity : Math.max(err, d);
  }
  return err / scaleMax;
}
