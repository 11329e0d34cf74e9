/** Float64 reference for row-wise L2 normalisation and its backward (src/engine/ops/normalize.ts). */
export function l2Normalize64(x: ArrayLike<number>, cols: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[r * cols + j] ** 2;
    const n = Math.sqrt(s);
    for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j] / n;
  }
  return out;
}

export function l2NormalizeBackward64(dy: ArrayLike<number>, x: ArrayLike<number>, cols: number): Float64Array {
  const y = l2Normalize64(x, cols);
  const dx = new Float64Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    let s = 0;
    let d = 0;
    for (let j = 0; j < cols; j++) {
      s += x[r * cols + j] ** 2;
      d += y[r * cols + j] * dy[r * cols + j];
    }
    const n = Math.sqrt(s);
    for (let j = 0; j < cols; j++) dx[r * cols + j] = (dy[r * cols + j] - y[r * cols + j] * d) / n;
  }
  return dx;
}
