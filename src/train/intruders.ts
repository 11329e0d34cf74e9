/**
 * Intruder dimensions (Shuttleworth et al., "LoRA vs Full Fine-tuning: An Illusion of
 * Equivalence", arXiv 2410.21228). The test, as the authors' code and PEFT's
 * `reduce_intruder_dimension` run it: thin SVDs of the pretrained weight W0 and of the fine-tuned
 * W1 = W0 + ΔW (both out × in); for each of the top-k left singular vectors of W1 (k = 10), its
 * largest |cosine| with any left singular vector of W0; a vector whose largest |cosine| is below
 * ε (0.5) is an intruder: a new direction the pretrained weight had nothing like.
 *
 * We store the k cosines, not the count, so a person can recount under any ε without another SVD.
 * Float64 throughout (ml-matrix); W0's basis can be computed once per layer and reused by every run
 * on the same base (`cachedLeftBasis`), since it is the larger half of the work.
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';

export interface LayerIntruders {
  module: string;
  k: number;
  /** For each of the top-k left singular vectors of W1 (largest singular value first), its largest |cos| with W0's. */
  topCosines: number[];
}

/** The paper's threshold. */
export const INTRUDER_EPSILON = 0.5;
/** The paper's (and PEFT's) number of top directions examined. */
export const INTRUDER_TOP_K = 10;

/** The left singular vectors of a matrix as columns, ordered by decreasing singular value. */
export interface LeftBasis {
  rows: number;
  /** rows × min(rows, cols), orthonormal columns. */
  U: Matrix;
}

function toMatrix(w: ArrayLike<number>, rows: number, cols: number, what: string): Matrix {
  if (w.length !== rows * cols) throw new Error(`${what}: ${w.length} values for a ${rows}×${cols} weight`);
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.set(i, j, w[i * cols + j]);
  return m;
}

/** Thin SVD's left singular vectors of a row-major rows × cols weight, sorted by singular value. */
export function leftBasis(w: ArrayLike<number>, rows: number, cols: number, what = 'leftBasis'): LeftBasis {
  const svd = new SingularValueDecomposition(toMatrix(w, rows, cols, what), { computeLeftSingularVectors: true, computeRightSingularVectors: false, autoTranspose: true });
  const U = svd.leftSingularVectors;
  const s = svd.diagonal;
  const order = s.map((_, i) => i).sort((a, b) => Math.abs(s[b]) - Math.abs(s[a]));
  const n = Math.min(rows, cols);
  const out = new Matrix(rows, n);
  for (let c = 0; c < n; c++) for (let r = 0; r < rows; r++) out.set(r, c, U.get(r, order[c]));
  return { rows, U: out };
}

const cache = new WeakMap<object, Map<string, LeftBasis>>();

/**
 * W0's basis for `module`, computed once per `owner` (the loaded checkpoint: every run of a study
 * starts from the same base, so its SVDs are shared).
 */
export function cachedLeftBasis(owner: object, module: string, W0: () => ArrayLike<number> | Promise<ArrayLike<number>>, rows: number, cols: number): Promise<LeftBasis> {
  let byModule = cache.get(owner);
  if (!byModule) cache.set(owner, (byModule = new Map()));
  const hit = byModule.get(module);
  if (hit) return Promise.resolve(hit);
  return Promise.resolve(W0()).then((w) => {
    const b = leftBasis(w, rows, cols, `${module} (W0)`);
    byModule.set(module, b);
    return b;
  });
}

/**
 * The top-k cosines of one layer. `W0` and `W1` are row-major out × in; `base` is W0's basis when
 * already known (then W0 is not decomposed again and may be empty).
 */
export function layerIntruders(module: string, W0: ArrayLike<number>, W1: ArrayLike<number>, rows: number, cols: number, k = INTRUDER_TOP_K, base?: LeftBasis): LayerIntruders {
  const b0 = base ?? leftBasis(W0, rows, cols, `${module} (W0)`);
  if (b0.rows !== rows) throw new Error(`${module}: W0's basis has ${b0.rows} rows, W1 has ${rows}`);
  const b1 = leftBasis(W1, rows, cols, `${module} (W0 + ΔW)`);
  const top = Math.min(k, b1.U.columns);
  // (U1[:, :k]ᵀ · U0) holds every cosine between the two sets of unit vectors.
  const cos = b1.U.subMatrix(0, rows - 1, 0, top - 1).transpose().mmul(b0.U);
  const topCosines: number[] = [];
  for (let i = 0; i < top; i++) {
    let best = 0;
    for (let j = 0; j < cos.columns; j++) best = Math.max(best, Math.abs(cos.get(i, j)));
    topCosines.push(best);
  }
  return { module, k: top, topCosines };
}

/** How many of the layer's top-k directions are intruders at threshold ε. */
export function countIntruders(l: LayerIntruders, eps = INTRUDER_EPSILON): number {
  return l.topCosines.filter((c) => c < eps).length;
}

/** Intruders summed over layers at threshold ε (what a study's table shows). */
export function totalIntruders(layers: readonly LayerIntruders[], eps = INTRUDER_EPSILON): number {
  return layers.reduce((n, l) => n + countIntruders(l, eps), 0);
}
