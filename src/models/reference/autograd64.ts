/**
 * A small reverse-mode automatic differentiation in float64, used as the reference that the GPU
 * engine's forward and backward are checked against. It favours obviousness over speed: every
 * value is a dense row-major Float64Array with a shape, every op appends one backward closure to
 * its tape, and `Tape.backward` runs those closures in reverse order.
 *
 * Most ops see a tensor as rows × cols where cols is the last dimension (layernorm, softmax and
 * the row-vector broadcast of `addRow` act over the last dimension). Matmuls take 2-D operands or
 * 3-D operands with a shared leading batch dimension.
 */
import { erf64 } from '../../engine/reference/linalg';

export class Value {
  /** Gradient of the tape's loss with respect to this value; allocated when backward reaches it. */
  grad: Float64Array | undefined;

  constructor(
    readonly tape: Tape,
    readonly data: Float64Array,
    readonly shape: readonly number[],
    readonly requiresGrad: boolean,
    readonly label = '',
  ) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`autograd64: ${label || 'value'} has ${data.length} values for shape [${shape.join(', ')}]`);
  }

  get size(): number {
    return this.data.length;
  }

  /** Last dimension (1 for a scalar). */
  get cols(): number {
    return this.shape.length ? this.shape[this.shape.length - 1] : 1;
  }

  /** Product of every dimension but the last. */
  get rows(): number {
    return this.cols === 0 ? 0 : this.size / this.cols;
  }

  /** The gradient, allocated (zeros) if nothing has been accumulated yet. */
  gradOrZeros(): Float64Array {
    if (!this.grad) this.grad = new Float64Array(this.size);
    return this.grad;
  }
}

type Backward = () => void;

export class Tape {
  private readonly ops: Backward[] = [];

  /** A tensor the loss may be differentiated with respect to (weights, adapter deltas). */
  param(data: Float64Array, shape: readonly number[], label = ''): Value {
    return new Value(this, data, shape, true, label);
  }

  /** A tensor that gets no gradient (inputs, frozen weights). */
  constant(data: Float64Array, shape: readonly number[], label = ''): Value {
    return new Value(this, data, shape, false, label);
  }

  /** Records an op's output; `backward` runs only if the output needs a gradient. */
  record(data: Float64Array, shape: readonly number[], inputs: readonly Value[], backward: (g: Float64Array) => void, label = ''): Value {
    const out = new Value(this, data, shape, inputs.some((v) => v.requiresGrad), label);
    if (out.requiresGrad) {
      this.ops.push(() => {
        if (out.grad) backward(out.grad);
      });
    }
    return out;
  }

  /**
   * Back-propagates from `root` (a scalar unless `seed` is given). Gradients accumulate into
   * `.grad` of every value that requires one; call once per tape.
   */
  backward(root: Value, seed?: Float64Array): void {
    if (!root.requiresGrad) return;
    if (seed) {
      if (seed.length !== root.size) throw new Error(`autograd64: seed has ${seed.length} values for ${root.size}`);
      root.gradOrZeros().set(seed);
    } else {
      if (root.size !== 1) throw new Error(`autograd64: backward from a value of shape [${root.shape.join(', ')}] needs a seed`);
      root.gradOrZeros()[0] = 1;
    }
    for (let i = this.ops.length - 1; i >= 0; i--) this.ops[i]();
  }
}

function sameTape(...vs: Value[]): Tape {
  const t = vs[0].tape;
  for (const v of vs) if (v.tape !== t) throw new Error('autograd64: values from different tapes');
  return t;
}

function accumulate(v: Value, g: Float64Array): void {
  if (!v.requiresGrad) return;
  const dst = v.gradOrZeros();
  for (let i = 0; i < g.length; i++) dst[i] += g[i];
}

function shapeStr(v: Value): string {
  return `[${v.shape.join(', ')}]`;
}

// ---------------------------------------------------------------------------------------------
// Matrix products

export interface MatmulOptions {
  /** Use aᵀ (the last two dimensions swapped). */
  transA?: boolean;
  /** Use bᵀ (the last two dimensions swapped); `matmul(x, W, { transB: true })` is x·Wᵀ. */
  transB?: boolean;
}

/** Raw kernel: c[g] (+)= op(a[g])·op(b[g]) for g < batch, all row-major. */
function gemm(
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  batch: number,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
  aBatchStride: number,
  bBatchStride: number,
): void {
  for (let g = 0; g < batch; g++) {
    const ao = g * aBatchStride;
    const bo = g * bBatchStride;
    const co = g * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = transA ? a[ao + p * m + i] : a[ao + i * k + p];
          const bv = transB ? b[bo + j * k + p] : b[bo + p * n + j];
          s += av * bv;
        }
        c[co + i * n + j] += s;
      }
    }
  }
}

/**
 * op(a)·op(b) for 2-D operands (m × k by k × n) or 3-D operands with a shared batch dimension
 * (G × m × k by G × k × n). A 2-D `b` with a 3-D `a` is applied to every batch entry.
 */
export function matmul(a: Value, b: Value, opts: MatmulOptions = {}): Value {
  const tape = sameTape(a, b);
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  if (a.shape.length < 2 || a.shape.length > 3 || b.shape.length < 2 || b.shape.length > 3) {
    throw new Error(`matmul: operands must be 2-D or 3-D, got ${shapeStr(a)} and ${shapeStr(b)}`);
  }
  const batched = a.shape.length === 3;
  if (!batched && b.shape.length === 3) throw new Error(`matmul: a 2-D a with a 3-D b (${shapeStr(a)}, ${shapeStr(b)})`);
  const G = batched ? a.shape[0] : 1;
  if (b.shape.length === 3 && b.shape[0] !== G) throw new Error(`matmul: batch sizes differ (${shapeStr(a)}, ${shapeStr(b)})`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== kb) throw new Error(`matmul: inner sizes differ: ${shapeStr(a)}${transA ? 'ᵀ' : ''} by ${shapeStr(b)}${transB ? 'ᵀ' : ''}`);
  const aStride = m * k;
  const bStride = b.shape.length === 3 ? k * n : 0;
  const out = new Float64Array(G * m * n);
  gemm(a.data, b.data, out, G, m, k, n, transA, transB, aStride, bStride);
  const shape = batched ? [G, m, n] : [m, n];
  return tape.record(out, shape, [a, b], (g) => {
    if (a.requiresGrad) {
      // dA = dC·op(B)ᵀ, stored in A's layout: if transA, dA = (dC·op(B)ᵀ)ᵀ = op(B)·dCᵀ.
      const da = new Float64Array(a.size);
      for (let gi = 0; gi < G; gi++) {
        const sub = new Float64Array(m * k);
        // sub[i, p] = Σ_j g[i, j] op(B)[p, j]
        gemm(g.subarray(gi * m * n), b.data.subarray(gi * bStride), sub, 1, m, n, k, false, !transB, 0, 0);
        if (transA) for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) da[gi * aStride + p * m + i] = sub[i * k + p];
        else da.set(sub, gi * aStride);
      }
      accumulate(a, da);
    }
    if (b.requiresGrad) {
      // dB = op(A)ᵀ·dC (in op(B)'s layout), summed over the batch when b is shared.
      const db = new Float64Array(b.size);
      for (let gi = 0; gi < G; gi++) {
        const sub = new Float64Array(k * n);
        gemm(a.data.subarray(gi * aStride), g.subarray(gi * m * n), sub, 1, k, m, n, !transA, false, 0, 0);
        const off = gi * bStride;
        if (transB) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) db[off + j * k + p] += sub[p * n + j];
        else for (let q = 0; q < k * n; q++) db[off + q] += sub[q];
      }
      accumulate(b, db);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Elementwise

export function add(a: Value, b: Value): Value {
  const tape = sameTape(a, b);
  if (a.size !== b.size) throw new Error(`add: sizes differ (${shapeStr(a)}, ${shapeStr(b)})`);
  const out = new Float64Array(a.size);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] + b.data[i];
  return tape.record(out, a.shape, [a, b], (g) => {
    accumulate(a, g);
    accumulate(b, g);
  });
}

/** x + row, with `row` (of size cols) broadcast over every row of x: a linear layer's bias. */
export function addRow(x: Value, row: Value): Value {
  const tape = sameTape(x, row);
  const c = x.cols;
  if (row.size !== c) throw new Error(`addRow: row of ${row.size} values for ${shapeStr(x)}`);
  const out = new Float64Array(x.size);
  for (let i = 0; i < out.length; i++) out[i] = x.data[i] + row.data[i % c];
  return tape.record(out, x.shape, [x, row], (g) => {
    accumulate(x, g);
    if (row.requiresGrad) {
      const dr = new Float64Array(c);
      for (let i = 0; i < g.length; i++) dr[i % c] += g[i];
      accumulate(row, dr);
    }
  });
}

export function mul(a: Value, b: Value): Value {
  const tape = sameTape(a, b);
  if (a.size !== b.size) throw new Error(`mul: sizes differ (${shapeStr(a)}, ${shapeStr(b)})`);
  const out = new Float64Array(a.size);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] * b.data[i];
  return tape.record(out, a.shape, [a, b], (g) => {
    if (a.requiresGrad) accumulate(a, g.map((v, i) => v * b.data[i]));
    if (b.requiresGrad) accumulate(b, g.map((v, i) => v * a.data[i]));
  });
}

export function scale(x: Value, s: number): Value {
  const out = x.data.map((v) => v * s);
  return x.tape.record(out, x.shape, [x], (g) => accumulate(x, g.map((v) => v * s)));
}

function unary(x: Value, f: (v: number) => number, df: (v: number) => number): Value {
  const out = x.data.map(f);
  return x.tape.record(out, x.shape, [x], (g) => accumulate(x, g.map((v, i) => v * df(x.data[i]))));
}

/** x/‖x‖ over the last dimension (CLIP's embedding normalisation); backward (g − y⟨y, g⟩)/‖x‖. */
export function normalizeRows(x: Value): Value {
  const c = x.cols;
  const out = new Float64Array(x.size);
  const norms = new Float64Array(x.rows);
  for (let r = 0; r < x.rows; r++) {
    let s = 0;
    for (let j = 0; j < c; j++) s += x.data[r * c + j] ** 2;
    norms[r] = Math.sqrt(s);
    for (let j = 0; j < c; j++) out[r * c + j] = x.data[r * c + j] / norms[r];
  }
  return x.tape.record(out, x.shape, [x], (g) => {
    const dx = new Float64Array(x.size);
    for (let r = 0; r < x.rows; r++) {
      let d = 0;
      for (let j = 0; j < c; j++) d += out[r * c + j] * g[r * c + j];
      for (let j = 0; j < c; j++) dx[r * c + j] = (g[r * c + j] - out[r * c + j] * d) / norms[r];
    }
    accumulate(x, dx);
  });
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Exact GELU, x·Φ(x), as PyTorch's nn.GELU() and HF's "gelu". */
export function gelu(x: Value): Value {
  return unary(
    x,
    (v) => 0.5 * v * (1 + erf64(v / Math.SQRT2)),
    (v) => 0.5 * (1 + erf64(v / Math.SQRT2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v),
  );
}

function sigmoid(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}

/** x·σ(1.702·x), HF's "quick_gelu" (CLIP). */
export function quickGelu(x: Value): Value {
  return unary(
    x,
    (v) => v * sigmoid(1.702 * v),
    (v) => {
      const s = sigmoid(1.702 * v);
      return s + 1.702 * v * s * (1 - s);
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Normalisations over the last dimension

/** LayerNorm over the last dimension with biased variance, as torch.nn.LayerNorm. */
export function layerNorm(x: Value, weight: Value, bias: Value, eps: number): Value {
  const tape = sameTape(x, weight, bias);
  const c = x.cols;
  const r = x.rows;
  if (weight.size !== c || bias.size !== c) throw new Error(`layerNorm: weight/bias of ${weight.size}/${bias.size} for ${shapeStr(x)}`);
  const xhat = new Float64Array(x.size);
  const rstd = new Float64Array(r);
  const out = new Float64Array(x.size);
  for (let i = 0; i < r; i++) {
    const o = i * c;
    let mean = 0;
    for (let j = 0; j < c; j++) mean += x.data[o + j];
    mean /= c;
    let v = 0;
    for (let j = 0; j < c; j++) v += (x.data[o + j] - mean) ** 2;
    v /= c;
    rstd[i] = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < c; j++) {
      xhat[o + j] = (x.data[o + j] - mean) * rstd[i];
      out[o + j] = xhat[o + j] * weight.data[j] + bias.data[j];
    }
  }
  return tape.record(out, x.shape, [x, weight, bias], (g) => {
    if (weight.requiresGrad || bias.requiresGrad) {
      const dw = new Float64Array(c);
      const db = new Float64Array(c);
      for (let i = 0; i < x.size; i++) {
        dw[i % c] += g[i] * xhat[i];
        db[i % c] += g[i];
      }
      accumulate(weight, dw);
      accumulate(bias, db);
    }
    if (x.requiresGrad) {
      const dx = new Float64Array(x.size);
      for (let i = 0; i < r; i++) {
        const o = i * c;
        let m1 = 0;
        let m2 = 0;
        for (let j = 0; j < c; j++) {
          const dh = g[o + j] * weight.data[j];
          m1 += dh;
          m2 += dh * xhat[o + j];
        }
        m1 /= c;
        m2 /= c;
        for (let j = 0; j < c; j++) dx[o + j] = rstd[i] * (g[o + j] * weight.data[j] - m1 - xhat[o + j] * m2);
      }
      accumulate(x, dx);
    }
  });
}

/** Softmax over the last dimension. */
export function softmax(x: Value): Value {
  const c = x.cols;
  const r = x.rows;
  const out = new Float64Array(x.size);
  for (let i = 0; i < r; i++) {
    const o = i * c;
    let mx = -Infinity;
    for (let j = 0; j < c; j++) mx = Math.max(mx, x.data[o + j]);
    let s = 0;
    for (let j = 0; j < c; j++) s += out[o + j] = Math.exp(x.data[o + j] - mx);
    for (let j = 0; j < c; j++) out[o + j] /= s;
  }
  return x.tape.record(out, x.shape, [x], (g) => {
    const dx = new Float64Array(x.size);
    for (let i = 0; i < r; i++) {
      const o = i * c;
      let dot = 0;
      for (let j = 0; j < c; j++) dot += g[o + j] * out[o + j];
      for (let j = 0; j < c; j++) dx[o + j] = out[o + j] * (g[o + j] - dot);
    }
    accumulate(x, dx);
  });
}

// ---------------------------------------------------------------------------------------------
// Moving values around

/** Same values, new shape. */
export function reshape(x: Value, shape: readonly number[]): Value {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== x.size) throw new Error(`reshape: ${shapeStr(x)} to [${shape.join(', ')}]`);
  return x.tape.record(x.data.slice(), shape, [x], (g) => accumulate(x, g));
}

/**
 * out[i] = x[index[i]], any shape: the backward scatter-adds, so an element may be read many
 * times (a CLS token broadcast over the batch). Slices, row selection and permutations use it.
 */
export function gather(x: Value, index: Int32Array, shape: readonly number[]): Value {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== index.length) throw new Error(`gather: ${index.length} indices for shape [${shape.join(', ')}]`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = index[i];
    if (k < 0 || k >= x.size) throw new Error(`gather: index ${k} outside ${shapeStr(x)}`);
    out[i] = x.data[k];
  }
  return x.tape.record(out, shape, [x], (g) => {
    const dx = new Float64Array(x.size);
    for (let i = 0; i < n; i++) dx[index[i]] += g[i];
    accumulate(x, dx);
  });
}

/** Rows of x (seen as rows × cols) in the given order: (rows.length, cols). */
export function selectRows(x: Value, rows: ArrayLike<number>): Value {
  const c = x.cols;
  const index = new Int32Array(rows.length * c);
  for (let i = 0; i < rows.length; i++) {
    if (rows[i] < 0 || rows[i] >= x.rows) throw new Error(`selectRows: row ${rows[i]} outside ${shapeStr(x)}`);
    for (let j = 0; j < c; j++) index[i * c + j] = rows[i] * c + j;
  }
  return gather(x, index, [rows.length, c]);
}

/** Row r of x as a (1, cols) value. */
export function selectRow(x: Value, r: number): Value {
  return selectRows(x, [r]);
}

/** Columns [start, end) of x (seen as rows × cols): (rows, end - start). */
export function sliceCols(x: Value, start: number, end: number): Value {
  const c = x.cols;
  const r = x.rows;
  if (start < 0 || end > c || start > end) throw new Error(`sliceCols: [${start}, ${end}) of ${shapeStr(x)}`);
  const w = end - start;
  const index = new Int32Array(r * w);
  for (let i = 0; i < r; i++) for (let j = 0; j < w; j++) index[i * w + j] = i * c + start + j;
  return gather(x, index, [r, w]);
}

/** Permutes the dimensions of x: out.shape[i] = x.shape[perm[i]], as torch's permute. */
export function permute(x: Value, perm: readonly number[]): Value {
  const nd = x.shape.length;
  if (perm.length !== nd || [...perm].sort().some((p, i) => p !== i)) throw new Error(`permute: [${perm.join(', ')}] for ${shapeStr(x)}`);
  const inStrides = new Array<number>(nd);
  let s = 1;
  for (let d = nd - 1; d >= 0; d--) {
    inStrides[d] = s;
    s *= x.shape[d];
  }
  const outShape = perm.map((p) => x.shape[p]);
  const index = new Int32Array(x.size);
  const idx = new Array<number>(nd).fill(0);
  for (let i = 0; i < x.size; i++) {
    let src = 0;
    for (let d = 0; d < nd; d++) src += idx[d] * inStrides[perm[d]];
    index[i] = src;
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return gather(x, index, outShape);
}

/** Concatenates along the first dimension; all parts must share the remaining dimensions. */
export function concatRows(parts: readonly Value[]): Value {
  if (!parts.length) throw new Error('concatRows: nothing to concatenate');
  const tape = sameTape(...parts);
  const tail = parts[0].shape.slice(1);
  for (const p of parts) {
    if (p.shape.length !== tail.length + 1 || p.shape.slice(1).some((d, i) => d !== tail[i])) {
      throw new Error(`concatRows: ${shapeStr(p)} does not fit [*, ${tail.join(', ')}]`);
    }
  }
  const total = parts.reduce((a, p) => a + p.size, 0);
  const out = new Float64Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p.data, o);
    o += p.size;
  }
  const rows = parts.reduce((a, p) => a + p.shape[0], 0);
  return tape.record(out, [rows, ...tail], parts, (g) => {
    let off = 0;
    for (const p of parts) {
      accumulate(p, g.subarray(off, off + p.size));
      off += p.size;
    }
  });
}

/**
 * Mean over the second-to-last dimension: (G, n, c) → (G, c), or (n, c) → (1, c).
 * CLIP's classification head pools patch tokens this way.
 */
export function meanRows(x: Value): Value {
  if (x.shape.length !== 2 && x.shape.length !== 3) throw new Error(`meanRows: needs a 2-D or 3-D value, got ${shapeStr(x)}`);
  const c = x.cols;
  const n = x.shape[x.shape.length - 2];
  const G = x.shape.length === 3 ? x.shape[0] : 1;
  const out = new Float64Array(G * c);
  for (let gI = 0; gI < G; gI++) {
    for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) out[gI * c + j] += x.data[(gI * n + i) * c + j];
    for (let j = 0; j < c; j++) out[gI * c + j] /= n;
  }
  return x.tape.record(out, [G, c], [x], (g) => {
    const dx = new Float64Array(x.size);
    for (let gI = 0; gI < G; gI++) for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) dx[(gI * n + i) * c + j] = g[gI * c + j] / n;
    accumulate(x, dx);
  });
}

/** Sum of every element: a scalar. */
export function sum(x: Value): Value {
  let s = 0;
  for (let i = 0; i < x.size; i++) s += x.data[i];
  return x.tape.record(Float64Array.of(s), [], [x], (g) => accumulate(x, new Float64Array(x.size).fill(g[0])));
}

// ---------------------------------------------------------------------------------------------
// Loss

/**
 * Mean cross-entropy of logits (B, C) against integer labels, as PyTorch's
 * CrossEntropyLoss(label_smoothing=ε): the target distribution is (1−ε)·onehot + ε/C.
 */
export function crossEntropy(logits: Value, labels: ArrayLike<number>, labelSmoothing = 0): Value {
  if (logits.shape.length !== 2) throw new Error(`crossEntropy: logits must be (batch, classes), got ${shapeStr(logits)}`);
  const [B, C] = logits.shape;
  if (labels.length !== B) throw new Error(`crossEntropy: ${labels.length} labels for a batch of ${B}`);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new Error(`crossEntropy: label smoothing ${labelSmoothing} is outside [0, 1]`);
  const probs = new Float64Array(B * C);
  const target = new Float64Array(B * C);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const y = labels[b];
    if (!Number.isInteger(y) || y < 0 || y >= C) throw new Error(`crossEntropy: label ${y} at ${b} is not a class in [0, ${C})`);
    const o = b * C;
    let mx = -Infinity;
    for (let j = 0; j < C; j++) mx = Math.max(mx, logits.data[o + j]);
    let s = 0;
    for (let j = 0; j < C; j++) s += Math.exp(logits.data[o + j] - mx);
    const lse = mx + Math.log(s);
    for (let j = 0; j < C; j++) {
      probs[o + j] = Math.exp(logits.data[o + j] - lse);
      target[o + j] = labelSmoothing / C + (j === y ? 1 - labelSmoothing : 0);
      loss -= target[o + j] * (logits.data[o + j] - lse);
    }
  }
  return logits.tape.record(Float64Array.of(loss / B), [], [logits], (g) => {
    const d = new Float64Array(B * C);
    for (let i = 0; i < d.length; i++) d[i] = (g[0] * (probs[i] - target[i])) / B;
    accumulate(logits, d);
  });
}
