/**
 * RandLoRA (PEFT `tuners/randlora`, arXiv 2502.00987): a full-rank update built from one pair of
 * shared, frozen random bases and trained only through two diagonal scalings per layer.
 *
 * Shared bases, sized over every targeted layer: A (r, 1, m_g) and B (M_g, nb_g, r).
 * Per layer (W is O x I, m = min(I, O), M = max(I, O), nb = ceil(m / r)): trainable
 * lambda (r, nb) and gamma (nb, m), and with j = k·nb + n on S's side and j = n·r + k on Bf's,
 *   S[j, c]  = lambda[k, n] · A[k, 0, c] · gamma[n, c]          (r·nb x m)
 *   Bf[i, j] = B[i, j div r, j mod r]                            (M x r·nb, rows i < M, blocks n < nb)
 *   ΔW = s·Bf·S (I <= O) or s·(Bf·S)ᵀ (I > O), s = alpha / r.
 * Both operands are indexed by the same flat j, which is what PEFT's `flatten` calls produce.
 *
 * Two exact paths, chosen per call by operation count (randloraCost):
 * - factored: S is formed (one small launch) and a forward is two GEMMs through N x r·nb
 *   activations.
 * - dense: ΔW (or W + ΔW, the merge) is formed by one GEMM Bf·S, and the λ/γ gradients come from
 *   Bfᵀ·(dYᵀ·x).
 * All GEMMs read stored operands (Bf copied once per layer shape, see randloraBf), so they run
 * with the device's tuned tiling. RandLoRA is full rank (r·nb ≈ m), so with many rows
 *   this is the cheaper one.
 * Both end in one small launch reducing G = dL/dS onto λ and γ.
 */
import randloraWgsl from './randlora.wgsl';
import type { GpuContext } from '../../gpu/context';
import { asRows, gridFold, kernelCode } from '../../engine/ops/kernel';
import { randomArray, UNIT_UNIFORM } from '../../engine/random';
import { randomTensor } from '../../engine/randomTensor';
import { STREAMS } from '../../engine/streams';
import { Tensor } from '../../engine/tensor';
import { matmul } from '../../engine/ops/matmul';

import {
  checkLayerFits,
  RANDLORA_DEFAULTS,
  randloraBfFloats,
  randloraLayerShape,
  type RandLoraLayerShape,
  type RandLoraSharedShape,
} from './shapes';

export * from './shapes';

/** The shared frozen bases on the GPU, made from a seed. */
export interface RandLoraBases {
  shape: RandLoraSharedShape;
  seed: number;
  /** (r, 1, minDim) */
  A: Tensor;
  /** (maxDim, numBases, r) */
  B: Tensor;
}

/**
 * Unit-standard-deviation uniform bases from the counter-based generator (streams randloraA and
 * randloraB). PEFT draws Kaiming-uniform values and divides by their sample standard deviation;
 * here the distribution has standard deviation exactly 1, so the two differ only by the sampling
 * noise of that estimate (about 1/sqrt(2·size)). Export writes these values (save_projection), so
 * PEFT never has to regenerate them.
 */
export function randloraBases(ctx: GpuContext, shape: RandLoraSharedShape, seed: number = RANDLORA_DEFAULTS.seed): RandLoraBases {
  const A = randomTensor(ctx, [shape.r, 1, shape.minDim], seed, STREAMS.randloraA, UNIT_UNIFORM, 'randlora_A');
  const B = randomTensor(ctx, [shape.maxDim, shape.numBases, shape.r], seed, STREAMS.randloraB, UNIT_UNIFORM, 'randlora_B');
  return { shape, seed, A, B };
}

/** The same bases computed on the CPU (float64 of the values the GPU stores in f32), for export and tests. */
export function randloraBasesArrays(shape: RandLoraSharedShape, seed: number = RANDLORA_DEFAULTS.seed): { A: Float64Array; B: Float64Array } {
  return {
    A: randomArray(shape.r * shape.minDim, seed, STREAMS.randloraA, UNIT_UNIFORM),
    B: randomArray(shape.maxDim * shape.numBases * shape.r, seed, STREAMS.randloraB, UNIT_UNIFORM),
  };
}

/** One adapted layer: its shape, scale, the shared bases and its trainable tensors. */
export interface RandLoraLayer {
  shape: RandLoraLayerShape;
  /** s = alpha / r */
  scale: number;
  bases: RandLoraBases;
  /** (r, nb), PEFT's randlora_lambda */
  lambda: Tensor;
  /** (nb, m), PEFT's randlora_gamma */
  gamma: Tensor;
}

/**
 * PEFT's initialisation (init_weights=True): lambda = 0 and gamma = 1 / max(nb, m), so ΔW = 0 at
 * the start. It draws no random numbers, so it is the same for every seed.
 */
export function randloraInit(
  ctx: GpuContext,
  bases: RandLoraBases,
  O: number,
  I: number,
  alpha: number = RANDLORA_DEFAULTS.alpha,
): RandLoraLayer {
  const shape = randloraLayerShape(O, I, bases.shape.r);
  checkLayerFits(bases.shape, shape);
  // Uploaded rather than cleared: a clear is encoded in the pending batch and would land after any
  // upload the caller makes before the next submit (queue writes run first), wiping it.
  const lambda = Tensor.from(ctx, [shape.r, shape.nb], new Float32Array(shape.r * shape.nb), 'randlora_lambda');
  const gamma = Tensor.from(ctx, [shape.nb, shape.m], new Float32Array(shape.nb * shape.m).fill(1 / Math.max(shape.nb, shape.m)), 'randlora_gamma');
  return { shape, scale: alpha / shape.r, bases, lambda, gamma };
}

// ---------------------------------------------------------------------------------------------
// Dense operands. Every RandLoRA product is a plain GEMM on stored operands, so each runs with the
// device's tuned tiling (src/engine/tuning): Bf is frozen, so it is copied out of the shared basis
// once per layer shape and kept (or is the basis itself, when it spans it whole); S changes with
// λ and γ, so it is formed once per forward and once per backward (r·nb·m values, one launch).

const ALL_FLAGS = ['MATERIALISE_BF', 'MATERIALISE_S', 'GRAD_SCALINGS'] as const;
type Flag = (typeof ALL_FLAGS)[number];
function variant(on: readonly Flag[]): string {
  const defines: Record<string, boolean> = {};
  for (const f of ALL_FLAGS) defines[f] = on.includes(f);
  return kernelCode(randloraWgsl, defines, 'randlora.wgsl');
}

const bfCache = new WeakMap<RandLoraBases, Map<number, Tensor>>();

/**
 * Bf (M x r·nb) as a dense tensor, made on first use per (M, nb) and kept with the bases (frozen;
 * layers of one shape share it). Release with releaseRandloraBases.
 */
export function randloraBf(layer: RandLoraLayer): Tensor {
  const { bases } = layer;
  const { M, r, nb } = layer.shape;
  const J = r * nb;
  const sh = bases.shape;
  if (randloraBfFloats(sh, layer.shape) === 0) return bases.B.reshape([M, J]);
  let cache = bfCache.get(bases);
  if (!cache) bfCache.set(bases, (cache = new Map()));
  const key = M * 65536 + nb;
  let bf = cache.get(key);
  if (!bf) {
    const ctx = bases.B.ctx;
    bf = Tensor.empty(ctx, [M, J], 'randlora_Bf');
    ctx.launch({
      op: 'randlora_materialise_Bf',
      shapes: { M, J },
      code: variant(['MATERIALISE_BF']),
      uniforms: new Uint32Array([M, J, sh.numBases * sh.r, 0]),
      bindings: [
        { buffer: bases.B.buffer, access: 'read' },
        { buffer: bf.buffer, access: 'write' },
      ],
      workgroups: gridFold(Math.ceil((M * J) / 256)),
    });
    cache.set(key, bf);
  }
  return bf;
}

/** Releases the shared bases and the Bf copies made from them. */
export function releaseRandloraBases(bases: RandLoraBases): void {
  for (const t of bfCache.get(bases)?.values() ?? []) t.release();
  bfCache.delete(bases);
  bases.A.release();
  bases.B.release();
}

function smallParams(layer: RandLoraLayer, accumulate: boolean): ArrayBuffer {
  const p = new ArrayBuffer(32);
  new Uint32Array(p).set([layer.shape.r, layer.shape.nb, layer.shape.m, layer.bases.shape.minDim, accumulate ? 1 : 0]);
  return p;
}


function shapesOf(layer: RandLoraLayer): Record<string, number | readonly number[]> {
  const s = layer.shape;
  return { O: s.O, I: s.I, r: s.r, nb: s.nb };
}

/** S materialised (r·nb x m), λ·A·γ in the order the float64 reference multiplies them. */
function materialiseS(layer: RandLoraLayer): Tensor {
  const ctx = layer.lambda.ctx;
  const J = layer.shape.r * layer.shape.nb;
  const out = Tensor.empty(ctx, [J, layer.shape.m], 'randlora_S');
  ctx.launch({
    op: 'randlora_materialise_S',
    shapes: shapesOf(layer),
    code: variant(['MATERIALISE_S']),
    uniforms: smallParams(layer, false),
    bindings: [
      { buffer: layer.lambda.buffer, access: 'read' },
      { buffer: layer.bases.A.buffer, access: 'read' },
      { buffer: layer.gamma.buffer, access: 'read' },
      { buffer: out.buffer, access: 'write' },
    ],
    workgroups: gridFold(Math.ceil((J * layer.shape.m) / 256)),
  });
  return out;
}

function checkLayer(layer: RandLoraLayer): void {
  const s = layer.shape;
  if (layer.lambda.size !== s.r * s.nb) throw new Error(`RandLoRA ${s.O}x${s.I}: lambda has ${layer.lambda.size} values, needs ${s.r}x${s.nb}`);
  if (layer.gamma.size !== s.nb * s.m) throw new Error(`RandLoRA ${s.O}x${s.I}: gamma has ${layer.gamma.size} values, needs ${s.nb}x${s.m}`);
  checkLayerFits(layer.bases.shape, s);
}

/** Rows of an activation tensor whose last dimension must be `features`. */
function rowsOf(t: Tensor, features: number, what: string, layer: RandLoraLayer): number {
  return asRows(t, features, `RandLoRA ${layer.shape.O}x${layer.shape.I}`, what).rows;
}

// ---------------------------------------------------------------------------------------------
// Cost model. RandLoRA is full rank (r·nb ≈ m), so unlike LoRA its factored path is not thin: per
// pass it costs about two GEMMs of the base layer's size. Forming ΔW costs r·nb·m·M once, however
// many rows pass through, so with many tokens the dense path (ΔW, or W + ΔW merged once per step)
// is the cheaper one. Both are exact; `auto` picks the one with fewer multiply-adds.

export type RandLoraStrategy = 'factored' | 'dense' | 'auto';

/** Multiply-adds of each path for N rows (dx included in the backward when `withDx`). */
export function randloraCost(shape: RandLoraLayerShape, N: number, withDx = true): {
  forward: { factored: number; dense: number };
  backward: { factored: number; dense: number };
} {
  const { O, I, m, M, r, nb } = shape;
  const J = r * nb;
  const deltaW = J * m + J * m * M; // S, then Bf·S
  return {
    // h (N x J) from x, then h onto y.
    forward: { factored: N * J * (I + O), dense: deltaW + N * I * O },
    backward: {
      // I <= O: dh = dY·Bf, G = dhᵀ·x, dx = dh·S. I > O: h = x·Bf, G = hᵀ·dY, dh = dY·Sᵀ, dx = dh·Bfᵀ.
      factored: shape.inputIsMin ? N * J * (O + I) + (withDx ? N * J * I : 0) : N * J * (I + O) + (withDx ? N * J * (O + I) : 0),
      // D = dYᵀ·x (O x I), G = Bfᵀ·D (J x m); dx through a formed ΔW.
      dense: N * O * I + J * M * m + (withDx ? deltaW + N * O * I : 0),
    },
  };
}

function resolve(strategy: RandLoraStrategy | undefined, costs: { factored: number; dense: number }): 'factored' | 'dense' {
  const s = strategy ?? 'auto';
  if (s !== 'auto') return s;
  return costs.dense < costs.factored ? 'dense' : 'factored';
}

// ---------------------------------------------------------------------------------------------
// (a) merged weight, (b) forward contribution, (c) backward

/** ΔW = s·Bf·S (I <= O) or s·Sᵀ·Bfᵀ (I > O), with Sᵀ read through transA; plus W in the epilogue when given. */
function deltaWInto(layer: RandLoraLayer, out: Tensor, W: Tensor | undefined, op: string): void {
  const S = materialiseS(layer);
  const Bf = randloraBf(layer);
  const opts = { alpha: layer.scale, out, op, ...(W ? { residual: W } : {}) };
  if (layer.shape.inputIsMin) matmul(Bf, S, opts);
  else matmul(S, Bf, { ...opts, transA: true, transB: true });
  S.release();
}

/** ΔW (O x I, scale included) as a new tensor. */
export function randloraDeltaW(layer: RandLoraLayer): Tensor {
  checkLayer(layer);
  const out = Tensor.empty(layer.lambda.ctx, [layer.shape.O, layer.shape.I], 'randlora_delta_w');
  deltaWInto(layer, out, undefined, 'randlora_delta_w');
  return out;
}

/**
 * W + ΔW as a new O x I f32 tensor (W, f32 or f16, is left unchanged): one GEMM, W added in its
 * epilogue. In training with many rows this is the merged route (randloraForwardMerged).
 */
export function randloraMerge(layer: RandLoraLayer, W: Tensor): Tensor {
  checkLayer(layer);
  const { O, I } = layer.shape;
  if (W.rows !== O || W.cols !== I || W.size !== O * I) {
    throw new Error(`RandLoRA merge: W has shape [${W.shape.join(',')}], needs [${O},${I}]`);
  }
  const out = Tensor.empty(W.ctx, [O, I], 'randlora_merged');
  deltaWInto(layer, out, W, 'randlora_merge');
  return out;
}

/**
 * Multiply-adds a step spends on the adapter beyond the layer's own two GEMMs, for N rows:
 * - separate: the cheaper of the factored and dense paths, dx included (ΔW beside W);
 * - merged: W + ΔW formed once, the layer's forward and dx GEMMs run on it (so dY·ΔW costs
 *   nothing extra), and the backward's λ/γ gradients through D = dYᵀ·x.
 */
export function randloraStepCost(shape: RandLoraLayerShape, N: number): { separate: number; merged: number } {
  const c = randloraCost(shape, N, true);
  const noDx = randloraCost(shape, N, false);
  const { r, nb, m, M } = shape;
  const J = r * nb;
  return {
    separate: Math.min(c.forward.factored + c.backward.factored, c.forward.dense + c.backward.dense - (J * m + J * m * M)),
    merged: J * m + J * m * M + noDx.backward.dense,
  };
}

/**
 * The merged route for x's rows, where it costs less than applying ΔW beside W (randloraStepCost):
 * W + ΔW (new f32 tensor) for the layer's own forward and input-gradient GEMMs; the backward is
 * then randloraBackward(..., { strategy: 'dense' }) with no dx. Undefined where it does not pay.
 */
export function randloraForwardMerged(layer: RandLoraLayer, x: Tensor, W: Tensor): Tensor | undefined {
  checkLayer(layer);
  const c = randloraStepCost(layer.shape, rowsOf(x, layer.shape.I, 'x', layer));
  return c.merged < c.separate ? randloraMerge(layer, W) : undefined;
}

export interface RandLoraForwardOptions {
  /** 'factored' never forms ΔW; 'dense' forms it and applies it; 'auto' (default) picks the cheaper. */
  strategy?: RandLoraStrategy;
  /**
   * Return ΔW (O x I) when the dense path formed it, for the backward's dx (the caller releases
   * it): the step then forms ΔW once, at the cost of holding it from forward to backward.
   */
  keepDeltaW?: boolean;
}

/** y += x·ΔWᵀ for x (..., I) and y (..., O). */
export function randloraForward(layer: RandLoraLayer, x: Tensor, y: Tensor, opts: RandLoraForwardOptions & { keepDeltaW: true }): Tensor | undefined;
export function randloraForward(layer: RandLoraLayer, x: Tensor, y: Tensor, opts?: RandLoraForwardOptions): undefined;
export function randloraForward(layer: RandLoraLayer, x: Tensor, y: Tensor, opts: RandLoraForwardOptions = {}): Tensor | undefined {
  checkLayer(layer);
  const { O, I, inputIsMin } = layer.shape;
  const N = rowsOf(x, I, 'x', layer);
  if (rowsOf(y, O, 'y', layer) !== N) throw new Error(`RandLoRA forward: x has ${N} rows but y has ${y.size / O}`);
  const x2 = x.reshape([N, I]);
  const y2 = y.reshape([N, O]);
  if (resolve(opts.strategy, randloraCost(layer.shape, N).forward) === 'dense') {
    const dW = randloraDeltaW(layer);
    matmul(x2, dW, { transB: true, beta: 1, out: y2, op: 'randlora_fwd_dense' });
    if (opts.keepDeltaW) return dW;
    dW.release();
    return undefined;
  }
  // I <= O: h = x·Sᵀ, y += s·h·Bfᵀ.  I > O: h = x·Bf, y += s·h·S.
  const Bf = randloraBf(layer);
  if (inputIsMin) {
    const S = materialiseS(layer);
    const h = matmul(x2, S, { transB: true, op: 'randlora_fwd_h' });
    matmul(h, Bf, { transB: true, alpha: layer.scale, beta: 1, out: y2, op: 'randlora_fwd_y' });
    h.release();
    S.release();
  } else {
    const h = matmul(x2, Bf, { op: 'randlora_fwd_h' });
    const S = materialiseS(layer);
    matmul(h, S, { alpha: layer.scale, beta: 1, out: y2, op: 'randlora_fwd_y' });
    h.release();
    S.release();
  }
  return undefined;
}

export interface RandLoraGrads {
  /** (r, nb) */
  lambda: Tensor;
  /** (nb, m) */
  gamma: Tensor;
}

export interface RandLoraBackwardOptions {
  /** When given, dY·ΔW is added into it (shape (..., I)). Leave out when the layer's own dx GEMM ran on W + ΔW. */
  dx?: Tensor;
  /** When given, the gradients are added into these instead of returned in new tensors. */
  accumulate?: RandLoraGrads;
  /**
   * 'factored': through the N x r·nb activations, never forming an O x I matrix. 'dense': through
   * D = dYᵀ·x (O x I), cheaper when N is large. 'auto' (default) picks the one with fewer operations.
   */
  strategy?: RandLoraStrategy;
  /** ΔW from randloraForward(..., { keepDeltaW: true }), used for dx on the dense path instead of forming it again. */
  deltaW?: Tensor;
}

/**
 * Gradients of L with respect to λ and γ given x (..., I) and dY = dL/dy (..., O), and optionally
 * dx += dY·ΔW. Both paths meet at G = dL/dS (r·nb x m), which one small kernel reduces onto λ
 * (over m) and γ (over r).
 */
export function randloraBackward(layer: RandLoraLayer, x: Tensor, dY: Tensor, opts: RandLoraBackwardOptions = {}): RandLoraGrads {
  checkLayer(layer);
  const { O, I, r, nb, m, inputIsMin } = layer.shape;
  const ctx = x.ctx;
  const N = rowsOf(x, I, 'x', layer);
  if (rowsOf(dY, O, 'dY', layer) !== N) throw new Error(`RandLoRA backward: x has ${N} rows but dY has ${dY.size / O}`);
  if (opts.dx && rowsOf(opts.dx, I, 'dx', layer) !== N) throw new Error(`RandLoRA backward: x has ${N} rows but dx has ${opts.dx.size / I}`);
  const acc = opts.accumulate;
  if (acc && (acc.lambda.size !== r * nb || acc.gamma.size !== nb * m)) {
    throw new Error(`RandLoRA backward: accumulate tensors have ${acc.lambda.size} and ${acc.gamma.size} values, need ${r * nb} and ${nb * m}`);
  }
  const x2 = x.reshape([N, I]);
  const dY2 = dY.reshape([N, O]);
  const dx2 = opts.dx?.reshape([N, I]);
  const s = layer.scale;
  let G: Tensor;
  if (resolve(opts.strategy, randloraCost(layer.shape, N, !!dx2).backward) === 'dense') {
    // dL/dΔW = dYᵀ·x; G = s·Bfᵀ·(dYᵀ·x) for I <= O, s·Bfᵀ·(dYᵀ·x)ᵀ for I > O.
    const D = matmul(dY2, x2, { transA: true, op: 'randlora_bwd_dW' });
    G = matmul(randloraBf(layer), D, { transA: true, transB: !inputIsMin, alpha: s, op: 'randlora_bwd_G' });
    D.release();
    if (dx2) {
      const dW = opts.deltaW ?? randloraDeltaW(layer);
      if (dW.size !== O * I) throw new Error(`RandLoRA backward: deltaW has shape [${dW.shape.join(',')}], needs [${O},${I}]`);
      matmul(dY2, dW, { beta: 1, out: dx2, op: 'randlora_bwd_dx_dense' });
      if (!opts.deltaW) dW.release();
    }
  } else if (inputIsMin) {
    // y = s·(x·Sᵀ)·Bfᵀ: dh = s·dY·Bf, G = dhᵀ·x, dx += dh·S.
    const dh = matmul(dY2, randloraBf(layer), { alpha: s, op: 'randlora_bwd_dh' });
    G = matmul(dh, x2, { transA: true, op: 'randlora_bwd_G' });
    if (dx2) {
      const S = materialiseS(layer);
      matmul(dh, S, { beta: 1, out: dx2, op: 'randlora_bwd_dx' });
      S.release();
    }
    dh.release();
  } else {
    // y = s·(x·Bf)·S: h = x·Bf, G = s·hᵀ·dY, dh = s·dY·Sᵀ, dx += dh·Bfᵀ.
    const Bf = randloraBf(layer);
    const h = matmul(x2, Bf, { op: 'randlora_bwd_h' });
    G = matmul(h, dY2, { transA: true, alpha: s, op: 'randlora_bwd_G' });
    h.release();
    if (dx2) {
      const S = materialiseS(layer);
      const dh = matmul(dY2, S, { transB: true, alpha: s, op: 'randlora_bwd_dh' });
      S.release();
      matmul(dh, Bf, { transB: true, beta: 1, out: dx2, op: 'randlora_bwd_dx' });
      dh.release();
    }
  }
  const dLambda = acc?.lambda ?? Tensor.empty(ctx, [r, nb], 'randlora_grad_lambda');
  const dGamma = acc?.gamma ?? Tensor.empty(ctx, [nb, m], 'randlora_grad_gamma');
  ctx.launch({
    op: 'randlora_grad_scalings',
    shapes: shapesOf(layer),
    code: variant(['GRAD_SCALINGS']),
    uniforms: smallParams(layer, !!acc),
    bindings: [
      { buffer: layer.lambda.buffer, access: 'read' },
      { buffer: layer.bases.A.buffer, access: 'read' },
      { buffer: layer.gamma.buffer, access: 'read' },
      { buffer: G.buffer, access: 'read' },
      { buffer: dLambda.buffer, access: 'write' },
      { buffer: dGamma.buffer, access: 'write' },
    ],
    workgroups: gridFold(Math.ceil((r * nb + nb * m) / 256)),
  });
  G.release();
  return { lambda: dLambda, gamma: dGamma };
}
