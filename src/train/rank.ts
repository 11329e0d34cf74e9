import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { combine } from '../engine/ops/elementwise';
import type { Tensor } from '../engine/tensor';
import type { LayerAdapter } from '../methods/types';

/** The singular-value spectrum of one layer's update ΔW, and the rank measures the UI shows. */
export interface Spectrum {
  module: string;
  rows: number;
  cols: number;
  /** Descending. */
  singularValues: number[];
  /** Singular values above 1e-4 of the largest: what f32 can tell from zero after a merge. */
  numericalRank: number;
  /** exp of the entropy of the normalised singular values (Roy & Vetterli 2007). */
  effectiveRank: number;
  /** ‖ΔW‖_F² / ‖ΔW‖_2²: how many directions carry the energy. */
  stableRank: number;
}

const RELATIVE_FLOOR = 1e-4;

export function spectrumOf(module: string, delta: ArrayLike<number>, rows: number, cols: number): Spectrum {
  if (delta.length !== rows * cols) throw new Error(`spectrumOf: ${delta.length} values for a ${rows}x${cols} update`);
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.set(i, j, delta[i * cols + j]);
  // Only the values are needed: skipping U and V makes this several times faster on big layers.
  const svd = new SingularValueDecomposition(m, { computeLeftSingularVectors: false, computeRightSingularVectors: false, autoTranspose: true });
  const s = [...svd.diagonal].map((v) => Math.abs(v)).sort((a, b) => b - a);
  const top = s[0] ?? 0;
  if (!(top > 0)) return { module, rows, cols, singularValues: s, numericalRank: 0, effectiveRank: 0, stableRank: 0 };
  const sum = s.reduce((a, b) => a + b, 0);
  let entropy = 0;
  for (const v of s) {
    const p = v / sum;
    if (p > 0) entropy -= p * Math.log(p);
  }
  return {
    module,
    rows,
    cols,
    singularValues: s,
    numericalRank: s.filter((v) => v > RELATIVE_FLOOR * top).length,
    effectiveRank: Math.exp(entropy),
    stableRank: s.reduce((a, v) => a + v * v, 0) / (top * top),
  };
}

/** ΔW = merge(W) − W of an adapted layer, read back for analysis. */
export async function adapterDelta(adapter: LayerAdapter, W: Tensor): Promise<Float32Array> {
  const merged = adapter.merge(W);
  const delta = combine(merged, W, 1, -1, merged);
  const out = await delta.read();
  merged.release();
  return out;
}

/** ΔW = W_now − W_start for full fine-tuning, where the weight itself trains. */
export async function weightDelta(W: Tensor, start: Tensor): Promise<Float32Array> {
  const d = combine(W, start, 1, -1);
  const out = await d.read();
  d.release();
  return out;
}
