/** Float64 reference for the row reduction (src/engine/ops/reduce.ts). */
/** Column sums of a strided (rows, cols) view: out[c] = Σ_r x[offset + r·rowStride + c]. */
export function sumRows64(x: ArrayLike<number>, rows: number, cols: number, rowStride = cols, offset = 0): Float64Array {
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += x[offset + r * rowStride + c];
  return out;
}
