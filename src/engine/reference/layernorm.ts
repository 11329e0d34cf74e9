/**
 * Float64 reference for layer normalisation over the last dimension (torch.nn.LayerNorm with
 * biased variance), forward and analytic backward.
 */
export interface LayerNorm64 {
  y: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
}

export function layerNorm64(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, rows: number, cols: number, eps: number): LayerNorm64 {
  const y = new Float64Array(rows * cols);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[r * cols + j];
    const mu = s / cols;
    let q = 0;
    for (let j = 0; j < cols; j++) q += (x[r * cols + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(q / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < cols; j++) y[r * cols + j] = (x[r * cols + j] - mu) * rs * w[j] + b[j];
  }
  return { y, mean, rstd };
}

export interface LayerNormGrads64 {
  dx: Float64Array;
  dw: Float64Array;
  db: Float64Array;
}

/** With g = dy·w and x̂ = (x − μ)·rstd: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), dw = Σ dy·x̂, db = Σ dy. */
export function layerNormBackward64(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  rows: number,
  cols: number,
  eps: number,
): LayerNormGrads64 {
  const { mean, rstd } = layerNorm64(x, w, new Float64Array(cols), rows, cols, eps);
  const dx = new Float64Array(rows * cols);
  const dw = new Float64Array(cols);
  const db = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let c1 = 0;
    let c2 = 0;
    const xhat = new Float64Array(cols);
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      xhat[j] = (x[i] - mean[r]) * rstd[r];
      const g = dy[i] * w[j];
      c1 += g;
      c2 += g * xhat[j];
      dw[j] += dy[i] * xhat[j];
      db[j] += dy[i];
    }
    c1 /= cols;
    c2 /= cols;
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      dx[i] = rstd[r] * (dy[i] * w[j] - c1 - xhat[j] * c2);
    }
  }
  return { dx, dw, db };
}
