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
 * - factored: S, Sᵀ and the strided slice Bf are generated inside the GEMM's tile loads
 *   (shaders/randlora.wgsl), never stored; a forward is two GEMMs through N x r·nb activations.
 * - dense: ΔW (or W + ΔW, the merge) is formed by one GEMM whose Bf operand is generated, and the
 *   λ/γ gradients come from Bfᵀ·(dYᵀ·x). RandLoRA is full rank (r·nb ≈ m), so with many rows
 *   this is the cheaper one.
 * Both end in two small reductions of G = dL/dS onto λ and γ.
 */
import randloraWgsl from './randlora.wgsl';
import type { GpuContext } from '../../gpu/context';
import { asRows, gridFold, kernelCode } from '../../engine/ops/kernel';
import { randomArray, UNIT_UNIFORM } from '../../engine/random';
import { randomTensor } from '../../engine/randomTensor';
import { STREAMS } from '../../engine/streams';
import { Tensor } from '../../engine/tensor';
import { matmul, type CustomOperand } from '../../engine/ops/matmul';

import {
  checkLayerFits,
  RANDLORA_DEFAULTS,
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
// Generated GEMM operands

const ALL_FLAGS = ['OPERAND', 'S_OPERAND', 'BF_OPERAND', 'TRANSPOSED', 'SIDE_A', 'MATERIALISE_S', 'GRAD_LAMBDA', 'GRAD_GAMMA'] as const;
type Flag = (typeof ALL_FLAGS)[number];
function variant(on: readonly Flag[]): string {
  const defines: Record<string, boolean> = {};
  for (const f of ALL_FLAGS) defines[f] = on.includes(f);
  return kernelCode(randloraWgsl, defines, 'randlora.wgsl');
}

function ext(layer: RandLoraLayer): number[] {
  const sh = layer.bases.shape;
  return [layer.shape.nb, sh.minDim, layer.shape.m, sh.numBases * sh.r];
}

/** S (r·nb x m), or Sᵀ (m x r·nb) when transposed, as the B operand of a GEMM. */
function sOperand(layer: RandLoraLayer, transposed: boolean): CustomOperand {
  const J = layer.shape.r * layer.shape.nb;
  const m = layer.shape.m;
  return {
    name: transposed ? 'randlora_S_t' : 'randlora_S',
    code: variant(transposed ? ['OPERAND', 'S_OPERAND', 'TRANSPOSED'] : ['OPERAND', 'S_OPERAND']),
    bindings: [
      { buffer: layer.lambda.buffer, access: 'read', binding: 8 },
      { buffer: layer.bases.A.buffer, access: 'read', binding: 9 },
      { buffer: layer.gamma.buffer, access: 'read', binding: 10 },
    ],
    rows: transposed ? m : J,
    cols: transposed ? J : m,
    ext: ext(layer),
  };
}

/** Bf (M x r·nb), or Bfᵀ (r·nb x M) when transposed, as the A or the B operand of a GEMM. */
function bfOperand(layer: RandLoraLayer, side: 'a' | 'b', transposed: boolean): CustomOperand {
  const J = layer.shape.r * layer.shape.nb;
  const M = layer.shape.M;
  const flags: Flag[] = ['OPERAND', 'BF_OPERAND'];
  if (side === 'a') flags.push('SIDE_A');
  if (transposed) flags.push('TRANSPOSED');
  return {
    name: `randlora_Bf_${side}${transposed ? '_t' : ''}`,
    code: variant(flags),
    bindings: [{ buffer: layer.bases.B.buffer, access: 'read', binding: 8 }],
    rows: transposed ? J : M,
    cols: transposed ? M : J,
    ext: ext(layer),
  };
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

/** S materialised (r·nb x m) for forming ΔW: a GEMM generates one operand at most, and S is smaller than Bf. */
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

/** out = beta·out + ΔW, ΔW = s·Bf·S (I <= O) or s·Sᵀ·Bfᵀ (I > O), with Sᵀ read through transA. */
function deltaWInto(layer: RandLoraLayer, out: Tensor, beta: number, op: string): void {
  const S = materialiseS(layer);
  const opts = { alpha: layer.scale, beta, out, op };
  if (layer.shape.inputIsMin) matmul(bfOperand(layer, 'a', false), S, opts);
  else matmul(S, bfOperand(layer, 'b', true), { ...opts, transA: true });
  S.release();
}

/** ΔW (O x I, scale included) as a new tensor. */
export function randloraDeltaW(layer: RandLoraLayer): Tensor {
  checkLayer(layer);
  const out = Tensor.empty(layer.lambda.ctx, [layer.shape.O, layer.shape.I], 'randlora_delta_w');
  deltaWInto(layer, out, 0, 'randlora_delta_w');
  return out;
}

/**
 * W + ΔW as a new O x I tensor (W is left unchanged): one GEMM accumulating onto a copy of W.
 * In training with many rows, merging once per step and running the layer's own forward and
 * input-gradient GEMMs on the result, plus randloraBackward(..., { strategy: 'dense' }) without
 * dx for λ and γ, is the cheapest route (see randloraCost).
 */
export function randloraMerge(layer: RandLoraLayer, W: Tensor): Tensor {
  checkLayer(layer);
  const { O, I } = layer.shape;
  if (W.rows !== O || W.cols !== I || W.size !== O * I) {
    throw new Error(`RandLoRA merge: W has shape [${W.shape.join(',')}], needs [${O},${I}]`);
  }
  const ctx = W.ctx;
  const out = Tensor.empty(ctx, [O, I], 'randlora_merged');
  ctx.copy(W.buffer, 0, out.buffer, 0, O * I * 4);
  deltaWInto(layer, out, 1, 'randlora_merge');
  return out;
}

export interface RandLoraForwardOptions {
  /** 'factored' never forms ΔW; 'dense' forms it and applies it; 'auto' (default) picks the cheaper. */
  strategy?: RandLoraStrategy;
}

/** y += x·ΔWᵀ for x (..., I) and y (..., O). */
export function randloraForward(layer: RandLoraLayer, x: Tensor, y: Tensor, opts: RandLoraForwardOptions = {}): void {
  checkLayer(layer);
  const { O, I, inputIsMin } = layer.shape;
  const N = rowsOf(x, I, 'x', layer);
  if (rowsOf(y, O, 'y', layer) !== N) throw new Error(`RandLoRA forward: x has ${N} rows but y has ${y.size / O}`);
  const x2 = x.reshape([N, I]);
  const y2 = y.reshape([N, O]);
  if (resolve(opts.strategy, randloraCost(layer.shape, N).forward) === 'dense') {
    const dW = randloraDeltaW(layer);
    matmul(x2, dW, { transB: true, beta: 1, out: y2, op: 'randlora_fwd_dense' });
    dW.release();
    return;
  }
  // I <= O: h = x·Sᵀ, y += s·h·Bfᵀ.  I > O: h = x·Bf, y += s·h·S.
  const h = inputIsMin
    ? matmul(x2, sOperand(layer, true), { op: 'randlora_fwd_h' })
    : matmul(x2, bfOperand(layer, 'b', false), { op: 'randlora_fwd_h' });
  matmul(h, inputIsMin ? bfOperand(layer, 'b', true) : sOperand(layer, false), {
    alpha: layer.scale,
    beta: 1,
    out: y2,
    op: 'randlora_fwd_y',
  });
  h.release();
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
}

/**
 * Gradients of L with respect to λ and γ given x (..., I) and dY = dL/dy (..., O), and optionally
 * dx += dY·ΔW. Both paths meet at G = dL/dS (r·nb x m), which two small kernels reduce onto λ
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
    G = matmul(bfOperand(layer, 'a', true), D, { transB: !inputIsMin, alpha: s, op: 'randlora_bwd_G' });
    D.release();
    if (dx2) {
      const dW = randloraDeltaW(layer);
      matmul(dY2, dW, { beta: 1, out: dx2, op: 'randlora_bwd_dx_dense' });
      dW.release();
    }
  } else if (inputIsMin) {
    // y = s·(x·Sᵀ)·Bfᵀ: dh = s·dY·Bf, G = dhᵀ·x, dx += dh·S.
    const dh = matmul(dY2, bfOperand(layer, 'b', false), { alpha: s, op: 'randlora_bwd_dh' });
    G = matmul(dh, x2, { transA: true, op: 'randlora_bwd_G' });
    if (dx2) matmul(dh, sOperand(layer, false), { beta: 1, out: dx2, op: 'randlora_bwd_dx' });
    dh.release();
  } else {
    // y = s·(x·Bf)·S: h = x·Bf, G = s·hᵀ·dY, dh = s·dY·Sᵀ, dx += dh·Bfᵀ.
    const h = matmul(x2, bfOperand(layer, 'b', false), { op: 'randlora_bwd_h' });
    G = matmul(h, dY2, { transA: true, alpha: s, op: 'randlora_bwd_G' });
    h.release();
    if (dx2) {
      const dh = matmul(dY2, sOperand(layer, true), { alpha: s, op: 'randlora_bwd_dh' });
      matmul(dh, bfOperand(layer, 'b', true), { beta: 1, out: dx2, op: 'randlora_bwd_dx' });
      dh.release();
    }
  }
  const dLambda = acc?.lambda ?? Tensor.empty(ctx, [r, nb], 'randlora_grad_lambda');
  const dGamma = acc?.gamma ?? Tensor.empty(ctx, [nb, m], 'randlora_grad_gamma');
  const params = smallParams(layer, !!acc);
  const common = [
    { buffer: layer.lambda.buffer, access: 'read' as const },
    { buffer: layer.bases.A.buffer, access: 'read' as const },
    { buffer: layer.gamma.buffer, access: 'read' as const },
    { buffer: G.buffer, access: 'read' as const },
  ];
  ctx.launch({
    op: 'randlora_grad_lambda',
    shapes: shapesOf(layer),
    code: variant(['GRAD_LAMBDA']),
    uniforms: params,
    bindings: [...common, { buffer: dLambda.buffer, access: 'write' }],
    workgroups: gridFold(r * nb),
  });
  ctx.launch({
    op: 'randlora_grad_gamma',
    shapes: shapesOf(layer),
    code: variant(['GRAD_GAMMA']),
    uniforms: params,
    bindings: [...common, { buffer: dGamma.buffer, access: 'write' }],
    workgroups: gridFold(Math.ceil((nb * m) / 256)),
  });
  G.release();
  return { lambda: dLambda, gamma: dGamma };
}
