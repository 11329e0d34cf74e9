import matmulWgsl from '../../../shaders/matmul.wgsl';
import type { Binding, GpuContext } from '../../gpu/context';
import { kernelCode } from './kernel';
import { tilingDefines, tilingFor, type Tiling } from './matmulTiling';
import { Tensor } from '../tensor';

export type Activation = 'none' | 'relu' | 'gelu' | 'quick_gelu';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** C = alpha·opA(A)·opB(B) + beta·C; beta ≠ 0 needs `out` holding C. */
  alpha?: number;
  beta?: number;
  bias?: Tensor;
  activation?: Activation;
  /**
   * Residual epilogue: C = R + (alpha·AB + beta·C + bias), R read-only and shaped like C. A
   * block's `h + linear(x)` in one launch, with the same sum as add(h, y). R may be stored in f16
   * (a frozen weight under mixed precision, read as W + ΔW is formed).
   */
  residual?: Tensor;
  /** Also writes the pre-activation value (before `activation`) here, for the activation's backward. */
  preOut?: Tensor;
  /**
   * Activation-backward epilogue: C = (alpha·AB + beta·C) ⊙ act'(pre), `pre` the activation's
   * input. Folds dPre = dAct ⊙ act'(pre) into the GEMM that computes dAct.
   */
  activationGrad?: { activation: 'gelu' | 'quick_gelu'; pre: Tensor };
  out?: Tensor;
  op?: string;
  /** Forces a tiling (tests and the autotuner); by default the device's tuned or default tiling. */
  tiling?: Tiling;
}

/** Options of a split GEMM: no residual or activation-gradient epilogue, no batch. */
export type SplitMatmulOptions = Pick<MatmulOptions, 'transA' | 'transB' | 'alpha' | 'op' | 'tiling' | 'activation'>;

function dims(t: Tensor, trans: boolean): { rows: number; cols: number; batch: number; stride: number } {
  const r = t.rows;
  const c = t.cols;
  const batch = t.shape.length > 2 ? t.shape.slice(0, -2).reduce((a, b) => a * b, 1) : 1;
  return trans ? { rows: c, cols: r, batch, stride: r * c } : { rows: r, cols: c, batch, stride: r * c };
}

const PARAMS_BYTES = 48;

/**
 * General matrix product on the GPU, the workhorse of every linear layer and adapter:
 * forward x·Wᵀ (transB), input gradient dY·W, weight gradient dYᵀ·x (transA).
 * Leading dimensions are a batch; a 2-D operand is shared by every batch entry.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  return gemm(a, b, opts)[0];
}

/** A split launch (the SPLIT modes): parts 1 and 2 of each split operand, and the operands' whole shapes. */
interface Split {
  axis: 'n' | 'k';
  /** Part width S: opB's (and C's) columns per part (n), or the depth per part (k). */
  size: number;
  /** Parts 1 and 2 of A (axis k), of B, of C (axis n) and of the bias (axis n); part 0 is the plain operand. */
  a?: readonly [Tensor, Tensor];
  b: readonly [Tensor, Tensor];
  c?: readonly [Tensor, Tensor];
  bias?: readonly [Tensor, Tensor];
  /** B as stored if its three parts were concatenated, for the shape checks and the tiling. */
  whole: { rows: number; cols: number };
  /** The same for A, when it is split (axis k). */
  wholeA?: { rows: number; cols: number };
}

/** Storage buffers a SPLIT_N launch binds: A, three B, three C, and three biases when it has them. */
function splitNBuffers(withBias: boolean): number {
  return withBias ? 10 : 7;
}

/**
 * Whether this device can bind a three-way output split (Q, K and V in one GEMM): it needs up to
 * 10 storage buffers in one stage, and the engine only demands 8 (callers fall back to three GEMMs).
 */
export function canSplitOutputs(ctx: GpuContext, withBias: boolean): boolean {
  return ctx.device.limits.maxStorageBuffersPerShaderStage >= splitNBuffers(withBias);
}

/**
 * One GEMM whose output columns come in three parts, written to three tensors: with transB,
 * [C0 | C1 | C2] = x·[W0; W1; W2]ᵀ + [b0 | b1 | b2], reading the three weights where they are
 * (no concatenated copy to go stale when they train). Each Wi is S×K (transB) or K×S, each
 * output M×S. Check `canSplitOutputs` first.
 */
export function matmulSplitOutputs(a: Tensor, b: readonly [Tensor, Tensor, Tensor], opts: SplitMatmulOptions & { bias?: readonly [Tensor, Tensor, Tensor] } = {}): [Tensor, Tensor, Tensor] {
  const op = opts.op ?? 'matmul_split_n';
  const shapeText = b.map((t) => `[${t.shape.join(',')}]`).join(', ');
  if (b.some((t) => t.shape.length !== 2 || t.rows !== b[0].rows || t.cols !== b[0].cols)) throw new Error(`${op}: the three B parts must be 2-D and the same shape, got ${shapeText}`);
  if (a.shape.length !== 2) throw new Error(`${op}: A must be 2-D (a split GEMM has no batch), got [${a.shape.join(',')}]`);
  const S = opts.transB ? b[0].rows : b[0].cols;
  const K = opts.transB ? b[0].cols : b[0].rows;
  // The concatenated B as the shape checks and tiling see it: K × 3S (or 3S × K stored).
  const whole = { rows: opts.transB ? 3 * S : K, cols: opts.transB ? K : 3 * S };
  if (opts.bias && opts.bias.some((t) => t.size !== S)) throw new Error(`${op}: each bias needs ${S} values`);
  if (!canSplitOutputs(a.ctx, !!opts.bias)) throw new Error(`${op}: this GPU binds ${a.ctx.device.limits.maxStorageBuffersPerShaderStage} storage buffers per stage, a split output needs ${splitNBuffers(!!opts.bias)} (check canSplitOutputs and run three GEMMs)`);
  const M = opts.transA ? a.cols : a.rows;
  const outs = [0, 1, 2].map((i) => Tensor.empty(a.ctx, [M, S], `${op}.${i}`));
  gemm(a, b[0], { ...opts, op, bias: opts.bias?.[0], out: outs[0] }, { axis: 'n', size: S, b: [b[1], b[2]], c: [outs[1], outs[2]], bias: opts.bias ? [opts.bias[1], opts.bias[2]] : undefined, whole });
  return outs as [Tensor, Tensor, Tensor];
}

/**
 * One GEMM whose depth comes in three parts: C = A0·B0 + A1·B1 + A2·B2 (each opA part M×S, each
 * opB part S×N), summed over the depth in one accumulator in order. The input gradient of Q, K
 * and V sharing an input, dQ·Wq + dK·Wk + dV·Wv, is one launch that reads the gradients and the
 * weights where they are. Binds 7 storage buffers.
 */
export function matmulSplitDepth(a: readonly [Tensor, Tensor, Tensor], b: readonly [Tensor, Tensor, Tensor], opts: SplitMatmulOptions = {}): Tensor {
  const op = opts.op ?? 'matmul_split_k';
  for (const [name, parts] of [['A', a], ['B', b]] as const) {
    if (parts.some((t) => t.shape.length !== 2 || t.rows !== parts[0].rows || t.cols !== parts[0].cols)) {
      throw new Error(`${op}: the three ${name} parts must be 2-D and the same shape, got ${parts.map((t) => `[${t.shape.join(',')}]`).join(', ')}`);
    }
  }
  const S = opts.transA ? a[0].rows : a[0].cols;
  const M = opts.transA ? a[0].cols : a[0].rows;
  const wholeA = { rows: opts.transA ? 3 * S : M, cols: opts.transA ? M : 3 * S };
  const Sb = opts.transB ? b[0].cols : b[0].rows;
  if (Sb !== S) throw new Error(`${op}: each A part has depth ${S} but each B part ${Sb}`);
  const N = opts.transB ? b[0].rows : b[0].cols;
  const wholeB = { rows: opts.transB ? N : 3 * S, cols: opts.transB ? 3 * S : N };
  return gemm(a[0], b[0], { ...opts, op }, { axis: 'k', size: S, a: [a[1], a[2]], b: [b[1], b[2]], wholeA, whole: wholeB })[0];
}

/** `matmul`, or with `split` one of the split GEMMs; returns C and, split along n, its parts 1 and 2. */
function gemm(a: Tensor, b: Tensor, opts: MatmulOptions, split?: Split): Tensor[] {
  const ctx = a.ctx;
  const da = split?.wholeA ? { ...stored(split.wholeA, !!opts.transA), batch: 1, stride: 0 } : dims(a, !!opts.transA);
  const db = split ? { ...stored(split.whole, !!opts.transB), batch: 1, stride: 0 } : dims(b, !!opts.transB);
  const op = opts.op ?? 'matmul';
  const shapes = { a: a.shape, b: b.shape };
  if (da.cols !== db.rows) {
    throw new Error(
      `${op}: inner dimensions differ: opA is ${da.rows}x${da.cols}, opB is ${db.rows}x${db.cols} ` +
        `(a=[${shapes.a.join(',')}]${opts.transA ? 'ᵀ' : ''}, b=[${shapes.b.join(',')}]${opts.transB ? 'ᵀ' : ''})`,
    );
  }
  const batch = Math.max(da.batch, db.batch);
  if ((da.batch !== 1 && da.batch !== batch) || (db.batch !== 1 && db.batch !== batch)) {
    throw new Error(`${op}: batch sizes ${da.batch} and ${db.batch} do not match`);
  }
  const M = da.rows;
  const N = db.cols;
  const K = da.cols;
  const beta = opts.beta ?? 0;
  const outShape = batch > 1 ? [...(da.batch > 1 ? a.shape : b.shape).slice(0, -2), M, N] : [M, N];
  const outSize = split?.axis === 'n' ? M * split.size : batch * M * N;
  let out = opts.out;
  if (out) {
    if (out.size !== outSize) throw new Error(`${op}: out has shape [${out.shape.join(',')}], needs ${batch}x${M}x${N}`);
  } else {
    if (beta !== 0) throw new Error(`${op}: beta ≠ 0 accumulates into C, so pass the tensor holding C as out`);
    out = Tensor.empty(ctx, outShape, op);
  }
  const biasN = split?.axis === 'n' ? split.size : N;
  if (opts.bias && opts.bias.size !== biasN && opts.bias.size !== batch * biasN) {
    throw new Error(`${op}: bias has ${opts.bias.size} values, needs ${biasN}`);
  }
  for (const [name, t] of [['residual', opts.residual], ['preOut', opts.preOut], ['activationGrad.pre', opts.activationGrad?.pre]] as const) {
    if (t && t.size !== out.size) throw new Error(`${op}: ${name} has shape [${t.shape.join(',')}], needs ${out.size} values like the output [${out.shape.join(',')}]`);
  }
  if (opts.activationGrad && opts.activation && opts.activation !== 'none') throw new Error(`${op}: an activation and an activation gradient in one epilogue`);
  const act = opts.activation ?? 'none';
  // Only B may be stored in f16 (a frozen weight under mixed precision); A and C stay f32.
  if (a.dtype !== 'f32') throw new Error(`${op}: operand A "${a.label}" is stored in ${a.dtype}; only B may be f16`);
  if (opts.out && opts.out.dtype !== 'f32') throw new Error(`${op}: out "${opts.out.label}" is stored in ${opts.out.dtype}; the product is written in f32`);
  if (opts.bias && opts.bias.dtype !== 'f32') throw new Error(`${op}: bias "${opts.bias.label}" is stored in ${opts.bias.dtype}; keep biases in f32`);
  const bF16 = b.dtype === 'f16';
  // A split GEMM reads its three B parts with one storage type (B_F16 covers B, B1 and B2).
  if (split && split.b.some((t) => t.dtype !== b.dtype)) {
    throw new Error(`${op}: the three B parts are stored in ${[b, ...split.b].map((t) => t.dtype).join(', ')}; they must share one dtype`);
  }
  // The autotuner's winner for this shape class on this device, else small tiles when the output
  // is small in either direction (a 64-wide tile would mostly idle) and 64×64 otherwise.
  const tiling = opts.tiling ?? tilingFor(ctx, { M, N, K, batch, transA: !!opts.transA, transB: !!opts.transB, bias: !!opts.bias, activation: act, split: split?.axis });
  const code = kernelCode(
    matmulWgsl,
    {
      B_F16: bF16,
      TRANS_A: !!opts.transA,
      TRANS_B: !!opts.transB,
      HAS_BIAS: !!opts.bias,
      HAS_RESIDUAL: !!opts.residual,
      R_F16: opts.residual?.dtype === 'f16',
      SAVE_PRE: !!opts.preOut,
      GRAD_ACT: !!opts.activationGrad,
      GRAD_GELU: opts.activationGrad?.activation === 'gelu',
      GRAD_QUICK_GELU: opts.activationGrad?.activation === 'quick_gelu',
      SPLIT: !!split,
      SPLIT_N: split?.axis === 'n',
      SPLIT_N_BIAS: !!split?.bias,
      SPLIT_K: split?.axis === 'k',
      ACT_RELU: act === 'relu',
      ACT_GELU: act === 'gelu',
      ACT_QUICK_GELU: act === 'quick_gelu',
      ...tilingDefines(tiling),
    },
    'matmul.wgsl',
  );

  const params = new ArrayBuffer(PARAMS_BYTES);
  const u = new Uint32Array(params);
  const f = new Float32Array(params);
  u.set([M, N, K, batch, da.batch > 1 ? da.stride : 0, db.batch > 1 ? db.stride : 0, M * N, opts.bias && opts.bias.size > N ? N : 0]);
  f[8] = opts.alpha ?? 1;
  f[9] = beta;
  u[10] = split?.size ?? 0;

  const bindings: Binding[] = [];
  bindings.push({ buffer: a.buffer, access: 'read', binding: 1 });
  bindings.push({ buffer: b.buffer, access: 'read', binding: 2 });
  bindings.push({ buffer: out.buffer, access: 'write', binding: 3 });
  if (opts.bias) bindings.push({ buffer: opts.bias.buffer, access: 'read', binding: 4 });
  if (opts.residual) bindings.push({ buffer: opts.residual.buffer, access: 'read', binding: 5 });
  if (opts.preOut) bindings.push({ buffer: opts.preOut.buffer, access: 'write', binding: 6 });
  if (opts.activationGrad) bindings.push({ buffer: opts.activationGrad.pre.buffer, access: 'read', binding: 7 });
  if (split) {
    split.b.forEach((t, i) => bindings.push({ buffer: t.buffer, access: 'read', binding: 20 + i }));
    split.c?.forEach((t, i) => bindings.push({ buffer: t.buffer, access: 'write', binding: 22 + i }));
    split.bias?.forEach((t, i) => bindings.push({ buffer: t.buffer, access: 'read', binding: 24 + i }));
    split.a?.forEach((t, i) => bindings.push({ buffer: t.buffer, access: 'read', binding: 26 + i }));
  }

  ctx.launch({
    op,
    shapes: { ...shapes, M, N, K, batch },
    code,
    uniforms: params,
    bindings,
    workgroups: [Math.ceil(N / (4 * tiling.wgX)), Math.ceil(M / (4 * tiling.wgY)), batch],
  });
  return [out, ...(split?.c ?? [])];
}

/** Rows and columns of an operand stored as `s`, after the transpose the GEMM applies. */
function stored(s: { rows: number; cols: number }, trans: boolean): { rows: number; cols: number } {
  return trans ? { rows: s.cols, cols: s.rows } : s;
}
