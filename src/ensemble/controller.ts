/**
 * The adaptive-ensemble controller (Rodriguez-Opazo et al., "Synergy and Diversity in CLIP:
 * Enhancing Performance Through Adaptive Backbone Ensembling"): a small MLP reads the
 * concatenated features of every member and predicts one temperature per member per image; the
 * ensemble's logits are Σ_m logits_m / T_m. Only the controller trains; members are frozen and
 * their features and logits are computed once (cached), so this runs on the CPU in float64: the
 * whole training set is a few thousand rows of cached numbers at most.
 *
 * Temperatures are softplus(z) + T_MIN, which keeps them positive. The last layer starts at
 * zero with its bias at softplus⁻¹(M − T_MIN), so every T_m starts at M: the untrained ensemble
 * is exactly the uniform average of the members' logits, the baseline it has to beat.
 */
import { randUnit } from '../engine/random';

/** A seeded stream of uniform [0, 1) values (the engine's counter-based generator). */
function uniforms(seed: number, stream: number): () => number {
  let i = 0;
  return () => randUnit(seed, stream, i++);
}

export const T_MIN = 1e-3;

export interface ControllerSettings {
  /** Hidden width of the MLP. */
  width: number;
  steps: number;
  lr: number;
  weightDecay: number;
  /** Rows per step; 0 = the whole training set (few-shot sets are small). */
  batch: number;
  seed: number;
}

// Few-shot training sets are tiny: a narrow controller and a short schedule overfit less.
export const CONTROLLER_DEFAULTS: ControllerSettings = { width: 32, steps: 100, lr: 3e-3, weightDecay: 1e-2, batch: 0, seed: 0 };

/** What the controller reads and combines for N images: members' features and logits, cached. */
export interface EnsembleInputs {
  /** Per member: features (N × F_m), row-major. */
  features: Float32Array[];
  featureSizes: number[];
  /** Per member: logits (N × C). */
  logits: Float32Array[];
  classes: number;
  count: number;
}

export interface Controller {
  inputSize: number;
  width: number;
  members: number;
  /** Standardisation of the concatenated features, from the training rows. */
  mean: Float64Array;
  std: Float64Array;
  W1: Float64Array; // width × inputSize
  b1: Float64Array; // width
  W2: Float64Array; // members × width
  b2: Float64Array; // members
}

const softplus = (z: number) => (z > 30 ? z : Math.log1p(Math.exp(z)));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const softplusInverse = (t: number) => Math.log(Math.expm1(t));

/** Row n of the concatenated features (before standardisation). */
function concatRow(x: EnsembleInputs, n: number, out: Float64Array): void {
  let o = 0;
  for (let m = 0; m < x.features.length; m++) {
    const F = x.featureSizes[m];
    const f = x.features[m];
    for (let j = 0; j < F; j++) out[o++] = f[n * F + j];
  }
}

export function initController(x: EnsembleInputs, rows: readonly number[], width: number, seed: number): Controller {
  const D = x.featureSizes.reduce((a, b) => a + b, 0);
  const M = x.features.length;
  const mean = new Float64Array(D);
  const sq = new Float64Array(D);
  const row = new Float64Array(D);
  for (const n of rows) {
    concatRow(x, n, row);
    for (let j = 0; j < D; j++) {
      mean[j] += row[j];
      sq[j] += row[j] * row[j];
    }
  }
  const std = new Float64Array(D);
  for (let j = 0; j < D; j++) {
    mean[j] /= rows.length;
    const v = sq[j] / rows.length - mean[j] * mean[j];
    std[j] = Math.sqrt(Math.max(v, 0)) || 1;
  }
  const rand = uniforms(seed, 1);
  // PyTorch's nn.Linear default: U(−1/√in, 1/√in).
  const bound = 1 / Math.sqrt(D);
  const W1 = Float64Array.from({ length: width * D }, () => (rand() * 2 - 1) * bound);
  const b1 = Float64Array.from({ length: width }, () => (rand() * 2 - 1) * bound);
  const W2 = new Float64Array(M * width);
  const b2 = new Float64Array(M).fill(softplusInverse(M - T_MIN));
  return { inputSize: D, width, members: M, mean, std, W1, b1, W2, b2 };
}

interface Activations {
  x: Float64Array;
  h: Float64Array;
  z: Float64Array;
  t: Float64Array;
}

function forwardRow(c: Controller, inputs: EnsembleInputs, n: number, a: Activations): void {
  concatRow(inputs, n, a.x);
  for (let j = 0; j < c.inputSize; j++) a.x[j] = (a.x[j] - c.mean[j]) / c.std[j];
  for (let k = 0; k < c.width; k++) {
    let s = c.b1[k];
    const w = k * c.inputSize;
    for (let j = 0; j < c.inputSize; j++) s += c.W1[w + j] * a.x[j];
    a.h[k] = s > 0 ? s : 0;
  }
  for (let m = 0; m < c.members; m++) {
    let s = c.b2[m];
    for (let k = 0; k < c.width; k++) s += c.W2[m * c.width + k] * a.h[k];
    a.z[m] = s;
    a.t[m] = softplus(s) + T_MIN;
  }
}

function activations(c: Controller): Activations {
  return { x: new Float64Array(c.inputSize), h: new Float64Array(c.width), z: new Float64Array(c.members), t: new Float64Array(c.members) };
}

/** The ensemble's logits for one image: Σ_m logits_m / T_m. */
function combine(inputs: EnsembleInputs, n: number, t: Float64Array, out: Float64Array): void {
  const C = inputs.classes;
  out.fill(0);
  for (let m = 0; m < t.length; m++) {
    const l = inputs.logits[m];
    for (let k = 0; k < C; k++) out[k] += l[n * C + k] / t[m];
  }
}

/** Per-image temperatures (N × M) and the ensemble's logits (N × C). */
export function predict(c: Controller, inputs: EnsembleInputs): { temperatures: Float64Array; logits: Float64Array } {
  const a = activations(c);
  const temperatures = new Float64Array(inputs.count * c.members);
  const logits = new Float64Array(inputs.count * inputs.classes);
  const out = new Float64Array(inputs.classes);
  for (let n = 0; n < inputs.count; n++) {
    forwardRow(c, inputs, n, a);
    temperatures.set(a.t, n * c.members);
    combine(inputs, n, a.t, out);
    logits.set(out, n * inputs.classes);
  }
  return { temperatures, logits };
}

export interface ControllerGrads {
  W1: Float64Array;
  b1: Float64Array;
  W2: Float64Array;
  b2: Float64Array;
}

/** Mean cross-entropy of the ensemble over `rows`, and its gradients with respect to the controller. */
export function lossAndGrads(c: Controller, inputs: EnsembleInputs, labels: ArrayLike<number>, rows: readonly number[]): { loss: number; grads: ControllerGrads } {
  const g: ControllerGrads = { W1: new Float64Array(c.W1.length), b1: new Float64Array(c.width), W2: new Float64Array(c.W2.length), b2: new Float64Array(c.members) };
  const a = activations(c);
  const C = inputs.classes;
  const L = new Float64Array(C);
  const dz = new Float64Array(c.members);
  const dh = new Float64Array(c.width);
  let loss = 0;
  const scale = 1 / rows.length;
  for (const n of rows) {
    forwardRow(c, inputs, n, a);
    combine(inputs, n, a.t, L);
    let max = -Infinity;
    for (let k = 0; k < C; k++) max = Math.max(max, L[k]);
    let sum = 0;
    for (let k = 0; k < C; k++) sum += Math.exp(L[k] - max);
    const y = labels[n];
    loss += (Math.log(sum) + max - L[y]) * scale;
    // dLoss/dL_k = softmax_k − [k = y]; L = Σ_m ℓ_m / T_m, so dLoss/dT_m = −⟨dL, ℓ_m⟩ / T_m².
    for (let m = 0; m < c.members; m++) {
      const l = inputs.logits[m];
      let dot = 0;
      for (let k = 0; k < C; k++) dot += (Math.exp(L[k] - max) / sum - (k === y ? 1 : 0)) * l[n * C + k];
      dz[m] = ((-dot / (a.t[m] * a.t[m])) * sigmoid(a.z[m])) * scale;
    }
    dh.fill(0);
    for (let m = 0; m < c.members; m++) {
      g.b2[m] += dz[m];
      for (let k = 0; k < c.width; k++) {
        g.W2[m * c.width + k] += dz[m] * a.h[k];
        dh[k] += c.W2[m * c.width + k] * dz[m];
      }
    }
    for (let k = 0; k < c.width; k++) {
      if (a.h[k] <= 0) continue;
      g.b1[k] += dh[k];
      const w = k * c.inputSize;
      for (let j = 0; j < c.inputSize; j++) g.W1[w + j] += dh[k] * a.x[j];
    }
  }
  return { loss, grads: g };
}

/** Trains the controller with AdamW (decay on the weight matrices only); returns the loss curve. */
export function trainController(inputs: EnsembleInputs, labels: ArrayLike<number>, rows: readonly number[], s: ControllerSettings): { controller: Controller; losses: number[] } {
  if (!rows.length) throw new Error('The ensemble controller needs at least one labelled training image.');
  const c = initController(inputs, rows, s.width, s.seed);
  const params: Array<[Float64Array, keyof ControllerGrads, boolean]> = [
    [c.W1, 'W1', true],
    [c.b1, 'b1', false],
    [c.W2, 'W2', true],
    [c.b2, 'b2', false],
  ];
  const m1 = params.map(([p]) => new Float64Array(p.length));
  const m2 = params.map(([p]) => new Float64Array(p.length));
  const b1 = 0.9;
  const b2 = 0.999;
  const rand = uniforms(s.seed, 2);
  const order = [...rows];
  let cursor = order.length;
  const losses: number[] = [];
  for (let step = 1; step <= s.steps; step++) {
    let batch: readonly number[] = rows;
    if (s.batch > 0 && s.batch < rows.length) {
      const picked: number[] = [];
      while (picked.length < s.batch) {
        if (cursor >= order.length) {
          for (let i = order.length - 1; i > 0; i--) {
            const j = Math.floor(rand() * (i + 1));
            [order[i], order[j]] = [order[j], order[i]];
          }
          cursor = 0;
        }
        picked.push(order[cursor++]);
      }
      batch = picked;
    }
    const { loss, grads } = lossAndGrads(c, inputs, labels, batch);
    losses.push(loss);
    const bc1 = 1 - b1 ** step;
    const bc2 = 1 - b2 ** step;
    params.forEach(([p, key, decay], i) => {
      const g = grads[key];
      for (let j = 0; j < p.length; j++) {
        if (decay) p[j] -= s.lr * s.weightDecay * p[j];
        m1[i][j] = b1 * m1[i][j] + (1 - b1) * g[j];
        m2[i][j] = b2 * m2[i][j] + (1 - b2) * g[j] * g[j];
        p[j] -= (s.lr * (m1[i][j] / bc1)) / (Math.sqrt(m2[i][j] / bc2) + 1e-8);
      }
    });
  }
  return { controller: c, losses };
}
