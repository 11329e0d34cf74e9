/** Float64 reference for class-token pooling and its backward. */
export function clsPool64(x: ArrayLike<number>, B: number, T: number, D: number, index = 0): Float64Array {
  const out = new Float64Array(B * D);
  for (let b = 0; b < B; b++) for (let j = 0; j < D; j++) out[b * D + j] = x[(b * T + index) * D + j];
  return out;
}

export function clsPoolBackward64(dPooled: ArrayLike<number>, B: number, T: number, D: number, index = 0): Float64Array {
  const dx = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) for (let j = 0; j < D; j++) dx[(b * T + index) * D + j] = dPooled[b * D + j];
  return dx;
}
