/**
 * NOLA (Koohpayegani et al., ICLR 2024; code UCDvision/NOLA, `vit/NOLA.py` class NOLA2): LoRA
 * whose factors are mixtures of frozen random bases,
 *   A = Σ_i α_i A_i (A_i: I × rank, i < ka),  B = Σ_j β_j B_j (B_j: rank × O, j < kb),
 *   y += s·(x·A)·B with s = c / rank, i.e. ΔW = s·(A·B)ᵀ (O × I);
 * only α (ka) and β (kb) train.
 *
 * Facts carried over from the reference code (vit/NOLA.py, used for its ViT results and by the
 * RandLoRA paper's NOLA baseline): bases are drawn with kaiming_uniform_(a=√5) on tensors of shape
 * (ka, I, rank) and (kb, rank, O), i.e. U(−1/√(I·rank), 1/√(I·rank)) and U(−1/√(rank·O), 1/√(rank·O));
 * α and β both start at 1/k (so ΔW starts small but not zero); c = 1. We draw the bases from our
 * counter-based generator (STREAMS.nolaA / nolaB) instead of PyTorch's, so they are the same on every
 * machine; docs/nola-format.md says how to rebuild them. The 'zero-beta' init is ours: β = 0 makes
 * ΔW = 0 at the start, like LoRA's zero B, for comparisons that need the pretrained model at step 0.
 *
 * Layout: a basis stack is (k, E) row-major, basis i at [i·E, (i+1)·E); A_i[p, r] at p·rank + r
 * (E = I·rank) and B_j[r, o] at r·O + o (E = rank·O). Mixed factors are tensors A [I, rank] and
 * B [rank, O] in the same layout.
 */
import nolaWgsl from './nola.wgsl';
import type { GpuContext } from '../../gpu/context';
import { asRows, gridFold, kernelCode } from '../../engine/ops/kernel';
import { randomArray, type Distribution } from '../../engine/random';
import { RANDOM_WGSL, randomTensor } from '../../engine/randomTensor';
import { STREAMS } from '../../engine/streams';
import { Tensor } from '../../engine/tensor';
import { matmul } from '../../engine/ops/matmul';

import type { NolaConfig } from './config';

export { NOLA_DEFAULTS, type NolaConfig, type NolaInit } from './config';

/** One adapted linear layer: W is O × I. `seed` picks its bases; layers with equal seeds and shapes share them. */
export interface NolaLayer extends NolaConfig {
  I: number;
  O: number;
  seed: number;
}

export function nolaScale(layer: Pick<NolaConfig, 'c' | 'rank'>): number {
  return layer.c / layer.rank;
}

/** Trainable parameters NOLA adds to one layer, whatever its shape. */
export function nolaParameterCount(cfg: Pick<NolaConfig, 'ka' | 'kb'>): number {
  return cfg.ka + cfg.kb;
}

/** A stack of k frozen bases of E values each, with everything needed to regenerate it. */
export interface NolaBasis {
  k: number;
  E: number;
  seed: number;
  stream: number;
  /** Element (i, e) is lo + (hi − lo)·rand_unit(seed, stream, i·E + e), computed in f32. */
  dist: Extract<Distribution, { kind: 'uniform' }>;
  /** The materialised (k, E) stack; absent when kernels generate the elements on the fly. */
  tensor?: Tensor;
}

export interface NolaBases {
  a: NolaBasis;
  b: NolaBasis;
}

/** kaiming_uniform_(a=√5) on NOLA's (ka, I, rank) / (kb, rank, O) tensors: bound 1/√fan_in. */
export function nolaBasisDistributions(I: number, O: number, rank: number): { a: NolaBasis['dist']; b: NolaBasis['dist'] } {
  const ba = 1 / Math.sqrt(I * rank);
  const bb = 1 / Math.sqrt(rank * O);
  return { a: { kind: 'uniform', lo: -ba, hi: ba }, b: { kind: 'uniform', lo: -bb, hi: bb } };
}

function checkLayer(layer: NolaLayer): void {
  for (const key of ['I', 'O', 'rank', 'ka', 'kb'] as const) {
    const v = layer[key];
    if (!Number.isInteger(v) || v < 1) throw new Error(`NOLA: ${key} must be a positive integer, got ${v}`);
  }
  if (layer.ka * layer.I * layer.rank >= 2 ** 32 || layer.kb * layer.rank * layer.O >= 2 ** 32) {
    throw new Error(`NOLA: a basis stack of ${layer.ka}×${layer.I}×${layer.rank} or ${layer.kb}×${layer.rank}×${layer.O} overflows the generator's u32 index; use fewer bases`);
  }
}

/** The bases' descriptors (shapes, seed, streams, distribution) without making them. */
export function nolaBasisSpecs(layer: NolaLayer): NolaBases {
  checkLayer(layer);
  const dist = nolaBasisDistributions(layer.I, layer.O, layer.rank);
  return {
    a: { k: layer.ka, E: layer.I * layer.rank, seed: layer.seed >>> 0, stream: STREAMS.nolaA, dist: dist.a },
    b: { k: layer.kb, E: layer.rank * layer.O, seed: layer.seed >>> 0, stream: STREAMS.nolaB, dist: dist.b },
  };
}

/**
 * The layer's frozen bases. `materialise` stores them as (k, E) tensors (faster to read than to
 * regenerate on most GPUs, k·E·4 bytes each); otherwise the kernels generate each element when they
 * need it and the bases cost no memory. Both give the same values.
 */
export function nolaBases(ctx: GpuContext, layer: NolaLayer, materialise = true): NolaBases {
  const bases = nolaBasisSpecs(layer);
  if (materialise) {
    for (const [name, s] of [['A', bases.a], ['B', bases.b]] as const) {
      s.tensor = randomTensor(ctx, [s.k, s.E], s.seed, s.stream, s.dist, `nola-bases-${name}`);
    }
  }
  return bases;
}

/** The bases in float64 on the CPU (the mirror of the GPU generator), e.g. for export or tests. */
export function nolaBasesArray(basis: NolaBasis): Float64Array {
  return randomArray(basis.k * basis.E, basis.seed, basis.stream, basis.dist);
}

export function releaseNolaBases(bases: NolaBases): void {
  bases.a.tensor?.release();
  bases.b.tensor?.release();
  bases.a.tensor = undefined;
  bases.b.tensor = undefined;
}

/** Initial α (ka) and β (kb). Deterministic, so no seed is involved. */
export function nolaInitialCoefficients(cfg: Pick<NolaConfig, 'ka' | 'kb' | 'init'>): { alpha: Float32Array; beta: Float32Array } {
  return {
    alpha: new Float32Array(cfg.ka).fill(1 / cfg.ka),
    beta: new Float32Array(cfg.kb).fill(cfg.init === 'zero-beta' ? 0 : 1 / cfg.kb),
  };
}

export function nolaInitCoefficients(ctx: GpuContext, cfg: Pick<NolaConfig, 'ka' | 'kb' | 'init'>): { alpha: Tensor; beta: Tensor } {
  const { alpha, beta } = nolaInitialCoefficients(cfg);
  return { alpha: Tensor.from(ctx, [cfg.ka], alpha, 'nola-alpha'), beta: Tensor.from(ctx, [cfg.kb], beta, 'nola-beta') };
}

function reduce(kind: 'mix' | 'project', basis: NolaBasis, v: Tensor, out: Tensor): void {
  const ctx = v.ctx;
  const dense = basis.tensor !== undefined;
  const code = kernelCode(nolaWgsl, { DENSE: dense, MIX: kind === 'mix' }, 'nola.wgsl', dense ? undefined : { key: 'random.wgsl', code: RANDOM_WGSL });
  const params = new ArrayBuffer(32);
  new Uint32Array(params).set([basis.E, basis.k, basis.seed >>> 0, basis.stream >>> 0]);
  new Float32Array(params).set([basis.dist.lo, basis.dist.hi], 4);
  const groups = Math.ceil((kind === 'mix' ? basis.E : basis.k) / 64);
  ctx.launch({
    op: `nola_${kind}${dense ? '' : '_generated'}`,
    shapes: { k: basis.k, E: basis.E },
    code,
    uniforms: params,
    bindings: [
      { buffer: v.buffer, access: 'read', binding: 1 },
      { buffer: out.buffer, access: 'write', binding: 2 },
      ...(basis.tensor ? [{ buffer: basis.tensor.buffer, access: 'read' as const, binding: 3 }] : []),
    ],
    workgroups: gridFold(groups),
  });
}

/** Σ_i coef[i]·basis_i as a tensor of the given shape (E values). */
export function nolaMix(basis: NolaBasis, coef: Tensor, shape: readonly number[] = [basis.E], out?: Tensor): Tensor {
  if (coef.size !== basis.k) throw new Error(`nolaMix: ${coef.size} coefficients for ${basis.k} bases`);
  const result = out ?? Tensor.empty(coef.ctx, shape, 'nola-mixed');
  if (result.size !== basis.E) throw new Error(`nolaMix: output of ${result.size} values for bases of ${basis.E}`);
  reduce('mix', basis, coef, result);
  return result;
}

/** ⟨basis_i, v⟩ for every basis: the k coefficient gradients from the gradient v of their mixture. */
export function nolaProject(basis: NolaBasis, v: Tensor, out?: Tensor): Tensor {
  if (v.size !== basis.E) throw new Error(`nolaProject: ${v.size} values for bases of ${basis.E}`);
  const result = out ?? Tensor.empty(v.ctx, [basis.k], 'nola-coef-grad');
  if (result.size !== basis.k) throw new Error(`nolaProject: output of ${result.size} values for ${basis.k} bases`);
  reduce('project', basis, v, result);
  return result;
}

/** The mixed LoRA factors, computed once per step and shared by forward, backward and merge. */
export interface NolaFactors {
  A: Tensor; // I × rank
  B: Tensor; // rank × O
}

export function nolaFactors(layer: NolaLayer, bases: NolaBases, alpha: Tensor, beta: Tensor): NolaFactors {
  return {
    A: nolaMix(bases.a, alpha, [layer.I, layer.rank]),
    B: nolaMix(bases.b, beta, [layer.rank, layer.O]),
  };
}

export function releaseNolaFactors(f: NolaFactors): void {
  f.A.release();
  f.B.release();
}

const rows2d = (t: Tensor, cols: number, name: string): Tensor => asRows(t, cols, 'NOLA', name);

/**
 * y += s·(x·A)·B for x (…, I) and y (…, O), without forming ΔW: two GEMMs through the rank-r
 * bottleneck. Returns x·A (N × rank) when `keepXA` is set, for the backward to reuse; otherwise
 * it goes back to the pool.
 */
export function nolaForward(layer: NolaLayer, f: NolaFactors, x: Tensor, y: Tensor, keepXA = false): Tensor | undefined {
  const x2 = rows2d(x, layer.I, 'x');
  const y2 = rows2d(y, layer.O, 'y');
  if (x2.rows !== y2.rows) throw new Error(`nolaForward: x has ${x2.rows} rows, y has ${y2.rows}`);
  const xA = matmul(x2, f.A, { op: 'nola_xA' });
  matmul(xA, f.B, { alpha: nolaScale(layer), beta: 1, out: y2, op: 'nola_forward' });
  if (keepXA) return xA;
  xA.release();
  return undefined;
}

export interface NolaGrads {
  dAlpha: Tensor; // ka
  dBeta: Tensor; // kb
}

export interface NolaBackwardOptions {
  /** Accumulates dY·ΔW = s·(dY·Bᵀ)·Aᵀ into this (…, I) tensor when given. */
  dx?: Tensor;
  /** x·A from `nolaForward(…, keepXA = true)`; recomputed when absent. Not released here. */
  xA?: Tensor;
}

/**
 * Gradients of α and β from x (…, I) and dY (…, O), never forming the O × I gradient of ΔW:
 * g = dY·Bᵀ (N × rank), dA = s·xᵀ·g (I × rank), dB = s·(x·A)ᵀ·dY (rank × O), then
 * dα_i = ⟨A_i, dA⟩, dβ_j = ⟨B_j, dB⟩; and dx += s·g·Aᵀ.
 */
export function nolaBackward(layer: NolaLayer, bases: NolaBases, f: NolaFactors, x: Tensor, dY: Tensor, opts: NolaBackwardOptions = {}): NolaGrads {
  const s = nolaScale(layer);
  const x2 = rows2d(x, layer.I, 'x');
  const dY2 = rows2d(dY, layer.O, 'dY');
  if (x2.rows !== dY2.rows) throw new Error(`nolaBackward: x has ${x2.rows} rows, dY has ${dY2.rows}`);
  const g = matmul(dY2, f.B, { transB: true, op: 'nola_dY_Bt' });
  const dA = matmul(x2, g, { transA: true, alpha: s, op: 'nola_dA' });
  const xA = opts.xA ?? matmul(x2, f.A, { op: 'nola_xA' });
  const dB = matmul(xA, dY2, { transA: true, alpha: s, op: 'nola_dB' });
  if (!opts.xA) xA.release();
  if (opts.dx) matmul(g, f.A, { transB: true, alpha: s, beta: 1, out: rows2d(opts.dx, layer.I, 'dx'), op: 'nola_dx' });
  g.release();
  const dAlpha = nolaProject(bases.a, dA);
  const dBeta = nolaProject(bases.b, dB);
  dA.release();
  dB.release();
  return { dAlpha, dBeta };
}

/** W + ΔW = W + s·(A·B)ᵀ = W + s·Bᵀ·Aᵀ as a new O × I tensor (W is left as it was). */
export function nolaMerge(layer: NolaLayer, f: NolaFactors, W: Tensor): Tensor {
  if (W.rows !== layer.O || W.cols !== layer.I || W.size !== layer.O * layer.I) {
    throw new Error(`nolaMerge: W has shape [${W.shape.join(',')}], expected [${layer.O},${layer.I}]`);
  }
  const out = Tensor.empty(W.ctx, [layer.O, layer.I], 'nola-merged');
  W.ctx.copy(W.buffer, 0, out.buffer, 0, W.size * 4);
  return matmul(f.B, f.A, { transA: true, transB: true, alpha: nolaScale(layer), beta: 1, out, op: 'nola_merge' });
}
