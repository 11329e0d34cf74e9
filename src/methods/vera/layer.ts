/**
 * VeRA (PEFT `tuners/vera`) on the GPU. Frozen bases shared by every adapted layer, vera_A
 * (r, I_max) and vera_B (O_max, r); per layer the slices A_s = vera_A[:, :I], B_s = vera_B[:O, :]
 * and the trainable vectors λ_b (O) and λ_d (r) give ΔW = diag(λ_b)·B_s·diag(λ_d)·A_s.
 *
 * Every product runs on the shared GEMM with stored operands, so it gets the device's tuned tiling:
 * A_sᵀ is frozen and kept per input width; the scaled slices (λ_d·A_s, diag(λ_b)·B_s·diag(λ_d),
 * diag(λ_b)·B_s) are written by one small kernel (vera.wgsl OPERAND, r·I or r·O values) where a
 * GEMM needs them. The other temporaries are rank-r: h = x·A_sᵀ (N, r), du (N, r), dYᵀ·h (O, r).
 */
import veraWgsl from './vera.wgsl';
import type { GpuContext } from '../../gpu/context';
import { asRows, gridFold, kernelCode } from '../../engine/ops/kernel';
import { randomArray, type Distribution } from '../../engine/random';
import { randomTensor } from '../../engine/randomTensor';
import { STREAMS } from '../../engine/streams';
import { Tensor } from '../../engine/tensor';
import { matmul } from '../../engine/ops/matmul';

import { VERA_DEFAULTS, type VeraConfig } from './config';
import { veraSharedShape, type LayerShape } from './shapes';

export { VERA_DEFAULTS, type VeraConfig } from './config';
export { veraSharedShape, type LayerShape } from './shapes';

/**
 * PEFT's `_kaiming_init`: uniform with bound √3·√2/√fan_in where fan_in is a 2-D tensor's second
 * dimension, so I_max for vera_A (r, I_max) and r for vera_B (O_max, r).
 */
export function veraBaseDistributions(r: number, shared: LayerShape): { A: Distribution; B: Distribution } {
  const a = Math.sqrt(6 / shared.in);
  const b = Math.sqrt(6 / r);
  return { A: { kind: 'uniform', lo: -a, hi: a }, B: { kind: 'uniform', lo: -b, hi: b } };
}

export interface VeraBases {
  /** vera_A (r, I_max) */
  A: Tensor;
  /** vera_B (O_max, r) */
  B: Tensor;
}

/** The shared frozen bases from a seed (PEFT's `projection_prng_key` plays this part there). */
export function veraBases(ctx: GpuContext, r: number, shared: LayerShape, seed: number): VeraBases {
  const d = veraBaseDistributions(r, shared);
  return {
    A: randomTensor(ctx, [r, shared.in], seed, STREAMS.veraA, d.A, 'vera_A'),
    B: randomTensor(ctx, [shared.out, r], seed, STREAMS.veraB, d.B, 'vera_B'),
  };
}

/** CPU mirror of `veraBases` in float64, row-major (the GPU values are these through f32). */
export function veraBasesArrays(r: number, shared: LayerShape, seed: number): { A: Float64Array; B: Float64Array } {
  const d = veraBaseDistributions(r, shared);
  return {
    A: randomArray(r * shared.in, seed, STREAMS.veraA, d.A),
    B: randomArray(shared.out * r, seed, STREAMS.veraB, d.B),
  };
}

export interface VeraLayerParams {
  /** λ_b (O) */
  lambdaB: Tensor;
  /** λ_d (r) */
  lambdaD: Tensor;
}

/** PEFT's `reset_vera_parameters`: λ_b = 0, so ΔW starts at 0, and λ_d = d_initial. */
export function veraInitLayer(ctx: GpuContext, out: number, r: number, dInitial = VERA_DEFAULTS.dInitial): VeraLayerParams {
  return {
    lambdaB: Tensor.zeros(ctx, [out], 'vera_lambda_b'),
    lambdaD: Tensor.from(ctx, [r], new Float32Array(r).fill(dInitial), 'vera_lambda_d'),
  };
}

// Specialised on first use, not at import, and cached by (file, defines) like every kernel.
const veraCode = (mode: 'OPERAND' | 'REDUCE' | 'GRADS') =>
  kernelCode(veraWgsl, { OPERAND: mode === 'OPERAND', REDUCE: mode === 'REDUCE', GRADS: mode === 'GRADS' }, 'vera.wgsl');

/** opB[k, col] = base[k·strideK + col·strideCol]·sk[k]·sc[col] as a new (rows, cols) tensor (the caller releases it). */
function operand(
  base: Tensor,
  rows: number,
  cols: number,
  strideK: number,
  strideCol: number,
  sk?: Tensor,
  sc?: Tensor,
): Tensor {
  const ctx = base.ctx;
  const out = Tensor.empty(ctx, [rows, cols], 'vera_operand');
  const g = gridFold(Math.ceil((rows * cols) / 256));
  ctx.launch({
    op: 'vera_operand',
    shapes: { base: base.shape, out: [rows, cols] },
    code: veraCode('OPERAND'),
    uniforms: new Uint32Array([rows, cols, strideK, strideCol, sk ? 1 : 0, sc ? 1 : 0, g[0], 0]),
    bindings: [
      { buffer: base.buffer, access: 'read' },
      { buffer: (sk ?? base).buffer, access: 'read' },
      { buffer: (sc ?? base).buffer, access: 'read' },
      { buffer: out.buffer, access: 'write' },
    ],
    workgroups: g,
  });
  return out;
}

const aSliceCache = new WeakMap<Tensor, Map<number, Tensor>>();

/**
 * A_sᵀ = vera_A[:, :I]ᵀ as an (I, r) tensor, made once per I and kept with the bases (frozen;
 * layers of one input width share it). Released by releaseVeraBases.
 */
function aSliceT(bases: VeraBases, d: Dims, I: number): Tensor {
  let cache = aSliceCache.get(bases.A);
  if (!cache) aSliceCache.set(bases.A, (cache = new Map()));
  let t = cache.get(I);
  if (!t) cache.set(I, (t = operand(bases.A, I, d.r, 1, d.Imax)));
  return t;
}

/** Releases the shared bases and the slices kept from them. */
export function releaseVeraBases(bases: VeraBases): void {
  for (const t of aSliceCache.get(bases.A)?.values() ?? []) t.release();
  aSliceCache.delete(bases.A);
  bases.A.release();
  bases.B.release();
}

interface ReduceSpec {
  nOut: number;
  nIn: number;
  X: Tensor;
  xs: [number, number];
  Y: Tensor;
  ys: [number, number];
  S?: Tensor;
  op: string;
}

/** out[j] = Σ_i X[i·xs₀ + j·xs₁]·Y[i·ys₀ + j·ys₁]·S[i]. */
function reduceDot(ctx: GpuContext, s: ReduceSpec): Tensor {
  const out = Tensor.empty(ctx, [s.nOut], s.op);
  const g = gridFold(Math.ceil(s.nOut / 64));
  const u = new Uint32Array([s.nOut, s.nIn, s.S ? 1 : 0, g[0], s.xs[0], s.xs[1], s.ys[0], s.ys[1]]);
  ctx.launch({
    op: s.op,
    shapes: { X: s.X.shape, Y: s.Y.shape, out: [s.nOut] },
    code: veraCode('REDUCE'),
    uniforms: u,
    bindings: [
      { buffer: s.X.buffer, access: 'read' },
      { buffer: s.Y.buffer, access: 'read' },
      { buffer: (s.S ?? s.X).buffer, access: 'read' },
      { buffer: out.buffer, access: 'write' },
    ],
    workgroups: g,
  });
  return out;
}

interface Dims {
  r: number;
  Imax: number;
  Omax: number;
  O: number;
}

function dimsOf(bases: VeraBases, layer: VeraLayerParams): Dims {
  const { A, B } = bases;
  if (A.shape.length !== 2 || B.shape.length !== 2 || A.rows !== B.cols) {
    throw new Error(`VeRA: vera_A must be (r, I_max) and vera_B (O_max, r), got [${A.shape.join(',')}] and [${B.shape.join(',')}]`);
  }
  const r = A.rows;
  if (layer.lambdaD.size !== r) {
    throw new Error(`VeRA: λ_d has ${layer.lambdaD.size} entries but the shared bases have rank ${r}; they must match`);
  }
  const O = layer.lambdaB.size;
  if (O > B.rows) {
    throw new Error(`VeRA: the layer has ${O} outputs but vera_B only ${B.rows} rows; make the bases with veraSharedShape over every target layer`);
  }
  return { r, Imax: A.cols, Omax: B.rows, O };
}

function checkIn(I: number, d: Dims, what: string): void {
  if (I > d.Imax) {
    throw new Error(`VeRA: ${what} has ${I} input features but vera_A only ${d.Imax} columns; make the bases with veraSharedShape over every target layer`);
  }
}

const rows2d = (t: Tensor, n: number, what: string): Tensor => asRows(t, n, 'VeRA', what);

/** λ_d·A_s as a new (r, I) tensor. */
const scaledA = (bases: VeraBases, layer: VeraLayerParams, d: Dims, I: number) =>
  operand(bases.A, d.r, I, d.Imax, 1, layer.lambdaD);

/**
 * W + diag(λ_b)·B_s·diag(λ_d)·A_s as a new (O, I) f32 tensor (W, f32 or f16, is left unchanged):
 * ΔW's GEMM with W added in its epilogue.
 */
export function veraMerge(W: Tensor, bases: VeraBases, layer: VeraLayerParams): Tensor {
  const d = dimsOf(bases, layer);
  const I = W.cols;
  if (W.shape.length !== 2 || W.rows !== d.O) {
    throw new Error(`veraMerge: W has shape [${W.shape.join(',')}] but λ_b has ${d.O} entries, so W needs ${d.O} rows`);
  }
  checkIn(I, d, 'W');
  return deltaW(bases, layer, d, I, 'vera_merge', W);
}

/** h = x·A_sᵀ (N, r), read straight from vera_A. */
function hidden(x2: Tensor, bases: VeraBases, d: Dims): Tensor {
  return matmul(x2, aSliceT(bases, d, x2.cols), { op: 'vera_fwd_h' });
}

// ---------------------------------------------------------------------------------------------
// Cost model. VeRA's rank is large (PEFT's default r = 256, often above the layer's width), so the
// rank-r path through N x r activations can cost more than forming ΔW (O·r·I, independent of N)
// and running x·ΔWᵀ, dYᵀ·x and dY·ΔW at the layer's own size. Both are exact; 'auto' picks the
// one with fewer multiply-adds over forward and backward (veraPath), from N, so both agree.

export type VeraStrategy = 'factored' | 'dense' | 'auto';

/** Multiply-adds of each path for N rows (dx included in the backward when `withDx`). */
export function veraCost(N: number, I: number, O: number, r: number, withDx = true): {
  forward: { factored: number; dense: number };
  backward: { factored: number; dense: number };
} {
  const deltaW = O * r * I;
  return {
    // h = x·A_sᵀ, y += (h⊙λ_d)·B_sᵀ⊙λ_b  |  ΔW, then x·ΔWᵀ.
    forward: { factored: N * r * (I + O), dense: deltaW + N * I * O },
    backward: {
      // dYᵀ·h and du = dY·(λ_b⊙B_s) (h saved by the forward), dx += du·(λ_d⊙A_s).
      factored: 2 * N * O * r + (withDx ? N * r * I : 0),
      // D = dYᵀ·x, E = D·A_sᵀ (both λ gradients reduce E), dx += dY·ΔW.
      dense: N * O * I + O * I * r + (withDx ? deltaW + N * O * I : 0),
    },
  };
}

/**
 * The path for N rows: 'auto' compares forward + backward (dx included), so the forward and the
 * backward of one step always agree and each finds what the other kept (h or ΔW).
 */
export function veraPath(strategy: VeraStrategy | undefined, N: number, I: number, O: number, r: number): 'factored' | 'dense' {
  const s = strategy ?? 'auto';
  if (s !== 'auto') return s;
  const c = veraCost(N, I, O, r, true);
  return c.forward.dense + c.backward.dense < c.forward.factored + c.backward.factored ? 'dense' : 'factored';
}

/** ΔW = (diag(λ_b)·B_s·diag(λ_d))·A_s (plus W when given) as a new (O, I) tensor: one small operand launch, one GEMM on the kept A_sᵀ. */
function deltaW(bases: VeraBases, layer: VeraLayerParams, d: Dims, I: number, op: string, W?: Tensor): Tensor {
  const left = operand(bases.B, d.O, d.r, d.r, 1, layer.lambdaB, layer.lambdaD);
  const dW = matmul(left, aSliceT(bases, d, I), { transB: true, op, ...(W ? { residual: W } : {}) });
  left.release();
  return dW;
}

/**
 * Multiply-adds a step spends on VeRA beyond the layer's own two GEMMs, for N rows:
 * - `separate`: the cheaper of veraPath's two routes beside W (ΔW formed once on the dense one);
 * - `merged`: W + ΔW formed once, the layer's forward and dx GEMMs run on it, and the λ gradients
 *   reduce E = (dYᵀ·x)·A_sᵀ (one N·O·I product);
 * - `mergedFactored`: W + ΔW likewise, but the λ gradients through h = x·A_sᵀ (kept from the
 *   forward), dYᵀ·h and du = dY·(λ_b⊙B_s): 3 products through N × r instead of N·O·I, cheaper
 *   where r is well below the layer's width (ViT-B's 768-wide layers at r = 256).
 */
export function veraStepCost(N: number, I: number, O: number, r: number): { separate: number; merged: number; mergedFactored: number } {
  const c = veraCost(N, I, O, r, true);
  const noDx = veraCost(N, I, O, r, false);
  const deltaW = O * r * I;
  return {
    separate: Math.min(c.forward.factored + c.backward.factored, c.forward.dense + c.backward.dense - deltaW),
    merged: deltaW + noDx.backward.dense,
    mergedFactored: deltaW + N * r * I + noDx.backward.factored,
  };
}

/** The merged route's state: W + ΔW, and h = x·A_sᵀ when the λ gradients go through it. */
export interface VeraMerged {
  weight: Tensor;
  h?: Tensor;
}

export type VeraMergedRoute = 'auto' | 'merged' | 'mergedFactored';

/**
 * The merged route for x's rows, where it costs less than applying ΔW beside W (veraStepCost):
 * W + ΔW as a new f32 tensor for the layer's own forward and input-gradient GEMMs, and h where
 * the gradients take the factored way. The backward is then veraBackward(..., { strategy:
 * 'factored', h }) or (..., { strategy: 'dense' }), without dx. Undefined where it does not pay.
 */
export function veraForwardMerged(x: Tensor, W: Tensor, bases: VeraBases, layer: VeraLayerParams, route: VeraMergedRoute = 'auto'): VeraMerged | undefined {
  const d = dimsOf(bases, layer);
  const I = x.cols;
  checkIn(I, d, 'x');
  const x2 = rows2d(x, I, 'x');
  let take = route;
  if (take === 'auto') {
    const c = veraStepCost(x2.rows, I, d.O, d.r);
    if (Math.min(c.merged, c.mergedFactored) >= c.separate) return undefined;
    take = c.mergedFactored < c.merged ? 'mergedFactored' : 'merged';
  }
  const weight = veraMerge(W, bases, layer);
  return take === 'mergedFactored' ? { weight, h: hidden(x2, bases, d) } : { weight };
}

export interface VeraForwardOptions {
  /** Return h = x·A_sᵀ for the backward (factored path only; the dense path has none). */
  save?: boolean;
  /** 'factored' goes through N x r activations, 'dense' forms ΔW; 'auto' (default) picks the cheaper. */
  strategy?: VeraStrategy;
}

/** What a forward keeps for its backward: h on the factored path, ΔW on the dense one. */
export interface VeraForwardSaved {
  h?: Tensor;
  deltaW?: Tensor;
}

/**
 * y += x·ΔWᵀ, keeping what the backward needs (the caller releases it). Factored:
 * y += ((x·A_sᵀ)⊙λ_d)·B_sᵀ⊙λ_b in two GEMMs, λ_d and λ_b folded into the stored operand of the
 * second; keeps h = x·A_sᵀ (N, r), unscaled. Dense: forms ΔW, adds x·ΔWᵀ and keeps ΔW (O, I) for
 * the backward's dx, so a step forms it once.
 */
export function veraForwardSaved(x: Tensor, bases: VeraBases, layer: VeraLayerParams, y: Tensor, strategy?: VeraStrategy): VeraForwardSaved {
  const d = dimsOf(bases, layer);
  const I = x.cols;
  checkIn(I, d, 'x');
  const x2 = rows2d(x, I, 'x');
  const y2 = rows2d(y, d.O, 'y');
  if (x2.rows !== y2.rows) throw new Error(`veraForward: x has ${x2.rows} rows but y has ${y2.rows}`);
  if (veraPath(strategy, x2.rows, I, d.O, d.r) === 'dense') {
    const dW = deltaW(bases, layer, d, I, 'vera_delta_w');
    matmul(x2, dW, { transB: true, beta: 1, out: y2, op: 'vera_fwd_dense' });
    return { deltaW: dW };
  }
  const h = hidden(x2, bases, d);
  const right = operand(bases.B, d.r, d.O, 1, d.r, layer.lambdaD, layer.lambdaB);
  matmul(h, right, { beta: 1, out: y2, op: 'vera_fwd_y' });
  right.release();
  return { h };
}

/** y += x·ΔWᵀ (see veraForwardSaved); with `save`, returns h on the factored path (the caller releases it). */
export function veraForward(x: Tensor, bases: VeraBases, layer: VeraLayerParams, y: Tensor, opts: VeraForwardOptions = {}): Tensor | undefined {
  const kept = veraForwardSaved(x, bases, layer, y, opts.strategy);
  kept.deltaW?.release();
  if (opts.save) return kept.h;
  kept.h?.release();
  return undefined;
}

export interface VeraGrads {
  /** dL/dλ_b (O) */
  dLambdaB: Tensor;
  /** dL/dλ_d (r) */
  dLambdaD: Tensor;
}

/**
 * Gradients of λ_b and λ_d from x (N, I) and dY (N, O), and dx += dY·ΔW when `dx` is given.
 * With u = h⊙λ_d and y = (u·B_sᵀ)⊙λ_b:
 *   dλ_b[o] = Σ_k (dYᵀ·h)[o,k]·B_s[o,k]·λ_d[k]   (an O×r GEMM, not the N×O product u·B_sᵀ)
 *   du = (dY⊙λ_b)·B_s,  dλ_d[k] = Σ_t du[t,k]·h[t,k],  dx += (du⊙λ_d)·A_s.
 * Pass the h that `veraForward` saved, or it is recomputed. The dense path (see veraCost) instead
 * reduces E = (dYᵀ·x)·A_sᵀ, which equals dYᵀ·h, and adds dY·ΔW into dx.
 */
export function veraBackward(
  x: Tensor,
  dY: Tensor,
  bases: VeraBases,
  layer: VeraLayerParams,
  opts: { dx?: Tensor; h?: Tensor; deltaW?: Tensor; strategy?: VeraStrategy } = {},
): VeraGrads {
  const d = dimsOf(bases, layer);
  const I = x.cols;
  checkIn(I, d, 'x');
  const ctx = x.ctx;
  const x2 = rows2d(x, I, 'x');
  const dY2 = rows2d(dY, d.O, 'dY');
  const N = x2.rows;
  if (dY2.rows !== N) throw new Error(`veraBackward: x has ${N} rows but dY has ${dY2.rows}`);
  if (opts.h && opts.h.size !== N * d.r) {
    throw new Error(`veraBackward: saved h has shape [${opts.h.shape.join(',')}], needs [${N},${d.r}]`);
  }
  if (veraPath(opts.strategy, N, I, d.O, d.r) === 'dense') {
    // D = dYᵀ·x = dL/dΔW; E = D·A_sᵀ (O, r) equals dYᵀ·h, so both λ gradients reduce it as below.
    const D = matmul(dY2, x2, { transA: true, op: 'vera_bwd_dW' });
    const E = matmul(D, aSliceT(bases, d, I), { op: 'vera_bwd_E' });
    D.release();
    const dLambdaB = Tensor.empty(ctx, [d.O], 'vera_bwd_dlambda_b');
    const dLambdaD = Tensor.empty(ctx, [d.r], 'vera_bwd_dlambda_d');
    const g = gridFold(Math.ceil((d.O + d.r) / 64));
    ctx.launch({
      op: 'vera_bwd_dlambda',
      shapes: { E: E.shape, B: bases.B.shape },
      code: veraCode('GRADS'),
      uniforms: new Uint32Array([d.O, d.r, g[0], 0]),
      bindings: [
        { buffer: E.buffer, access: 'read' },
        { buffer: bases.B.buffer, access: 'read' },
        { buffer: layer.lambdaB.buffer, access: 'read' },
        { buffer: layer.lambdaD.buffer, access: 'read' },
        { buffer: dLambdaB.buffer, access: 'write' },
        { buffer: dLambdaD.buffer, access: 'write' },
      ],
      workgroups: g,
    });
    E.release();
    if (opts.dx) {
      const dW = opts.deltaW ?? deltaW(bases, layer, d, I, 'vera_delta_w');
      if (dW.size !== d.O * I) throw new Error(`veraBackward: deltaW has shape [${dW.shape.join(',')}], needs [${d.O},${I}]`);
      matmul(dY2, dW, { beta: 1, out: rows2d(opts.dx, I, 'dx'), op: 'vera_bwd_dx_dense' });
      if (!opts.deltaW) dW.release();
    }
    return { dLambdaB, dLambdaD };
  }
  const h = opts.h ? rows2d(opts.h, d.r, 'h') : hidden(x2, bases, d);

  const gT = matmul(dY2, h, { transA: true, op: 'vera_bwd_dYt_h' });
  const dLambdaB = reduceDot(ctx, {
    nOut: d.O,
    nIn: d.r,
    X: gT,
    xs: [1, d.r],
    Y: bases.B,
    ys: [1, d.r],
    S: layer.lambdaD,
    op: 'vera_bwd_dlambda_b',
  });
  gT.release();

  const bScaled = operand(bases.B, d.O, d.r, d.r, 1, layer.lambdaB);
  const du = matmul(dY2, bScaled, { op: 'vera_bwd_du' });
  bScaled.release();
  const dLambdaD = reduceDot(ctx, { nOut: d.r, nIn: N, X: du, xs: [d.r, 1], Y: h, ys: [d.r, 1], op: 'vera_bwd_dlambda_d' });
  if (opts.dx) {
    const aScaled = scaledA(bases, layer, d, I);
    matmul(du, aScaled, { beta: 1, out: rows2d(opts.dx, I, 'dx'), op: 'vera_bwd_dx' });
    aScaled.release();
  }
  du.release();
  if (!opts.h) h.release();
  return { dLambdaB, dLambdaD };
}
