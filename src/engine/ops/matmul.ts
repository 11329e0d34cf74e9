import matmulWgsl from '../../../shaders/matmul.wgsl';
import type { Binding } from '../../gpu/context';
import { kernelCode } from './kernel';
import { tilingDefines, tilingFor, type Tiling } from './matmulTiling';
import { Tensor } from '../tensor';

export type Activation = 'none' | 'relu' | 'gelu' | 'quick_gelu';

/** An operand generated inside the tile loads instead of read from a dense tensor. */
export interface CustomOperand {
  /** Names the generator's code (one name, one code): the specialisation cache keys on it. */
  name: string;
  /** WGSL defining `custom_a(b, row, k)` or `custom_b(b, k, col)` and its bindings (numbered 8 and up). */
  code: string;
  bindings: Binding[];
  /** Logical shape [rows, cols] of the generated operand, after any transpose it applies itself. */
  rows: number;
  cols: number;
  ext?: readonly number[];
  extf?: readonly number[];
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** C = alpha·opA(A)·opB(B) + beta·C; beta ≠ 0 needs `out` holding C. */
  alpha?: number;
  beta?: number;
  bias?: Tensor;
  activation?: Activation;
  out?: Tensor;
  op?: string;
  /** Forces a tiling (tests and the autotuner); by default the device's tuned or default tiling. */
  tiling?: Tiling;
}

type Operand = Tensor | CustomOperand;

function isTensor(x: Operand): x is Tensor {
  return x instanceof Tensor;
}

function dims(t: Operand, trans: boolean): { rows: number; cols: number; batch: number; stride: number } {
  if (!isTensor(t)) return { rows: t.rows, cols: t.cols, batch: 1, stride: 0 };
  const r = t.rows;
  const c = t.cols;
  const batch = t.shape.length > 2 ? t.shape.slice(0, -2).reduce((a, b) => a * b, 1) : 1;
  return trans ? { rows: c, cols: r, batch, stride: r * c } : { rows: r, cols: c, batch, stride: r * c };
}

const PARAMS_BYTES = 80;

/**
 * General matrix product on the GPU, the workhorse of every linear layer and adapter:
 * forward x·Wᵀ (transB), input gradient dY·W, weight gradient dYᵀ·x (transA).
 * Leading dimensions are a batch; a 2-D operand is shared by every batch entry.
 */
export function matmul(a: Operand, b: Operand, opts: MatmulOptions = {}): Tensor {
  const ctx = isTensor(a) ? a.ctx : isTensor(b) ? b.ctx : opts.out?.ctx;
  if (!ctx) throw new Error('matmul: at least one operand or `out` must be a tensor');
  const da = dims(a, !!opts.transA);
  const db = dims(b, !!opts.transB);
  const op = opts.op ?? 'matmul';
  const shapeOf = (t: Operand) => (isTensor(t) ? t.shape : [t.rows, t.cols]);
  const shapes = { a: shapeOf(a), b: shapeOf(b) };
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
  const outShape = batch > 1 ? [...(isTensor(a) && da.batch > 1 ? a.shape : (b as Tensor).shape).slice(0, -2), M, N] : [M, N];
  let out = opts.out;
  if (out) {
    if (out.size !== batch * M * N) throw new Error(`${op}: out has shape [${out.shape.join(',')}], needs ${batch}x${M}x${N}`);
  } else {
    if (beta !== 0) throw new Error(`${op}: beta ≠ 0 accumulates into C, so pass the tensor holding C as out`);
    out = Tensor.empty(ctx, outShape, op);
  }
  if (opts.bias && opts.bias.size !== N && opts.bias.size !== batch * N) {
    throw new Error(`${op}: bias has ${opts.bias.size} values, needs ${N}`);
  }
  const act = opts.activation ?? 'none';
  const customA = !isTensor(a) ? a : undefined;
  const customB = !isTensor(b) ? b : undefined;
  const custom = customA ?? customB;
  if (customA && customB) throw new Error(`${op}: only one operand can be generated`);
  // Only B may be stored in f16 (a frozen weight under mixed precision); A and C stay f32.
  if (isTensor(a) && a.dtype !== 'f32') throw new Error(`${op}: operand A "${a.label}" is stored in ${a.dtype}; only B may be f16`);
  if (opts.out && opts.out.dtype !== 'f32') throw new Error(`${op}: out "${opts.out.label}" is stored in ${opts.out.dtype}; the product is written in f32`);
  if (opts.bias && opts.bias.dtype !== 'f32') throw new Error(`${op}: bias "${opts.bias.label}" is stored in ${opts.bias.dtype}; keep biases in f32`);
  const bF16 = isTensor(b) && b.dtype === 'f16';
  // The autotuner's winner for this shape class on this device, else small tiles when the output
  // is small in either direction (a 64-wide tile would mostly idle) and 64×64 otherwise.
  const tiling = opts.tiling ?? tilingFor(ctx, { M, N, K, batch, transA: !!opts.transA, transB: !!opts.transB, bias: !!opts.bias, activation: act }, !custom);
  const code = kernelCode(
    matmulWgsl,
    {
      A_DENSE: !customA,
      B_DENSE: !customB,
      B_DENSE_F32: !customB && !bF16,
      B_F16: bF16,
      A_CUSTOM: !!customA,
      B_CUSTOM: !!customB,
      TRANS_A: !!opts.transA,
      TRANS_B: !!opts.transB,
      HAS_BIAS: !!opts.bias,
      ACT_RELU: act === 'relu',
      ACT_GELU: act === 'gelu',
      ACT_QUICK_GELU: act === 'quick_gelu',
      ...tilingDefines(tiling),
    },
    'matmul.wgsl',
    custom ? { key: custom.name, code: custom.code } : undefined,
  );

  const params = new ArrayBuffer(PARAMS_BYTES);
  const u = new Uint32Array(params);
  const f = new Float32Array(params);
  u.set([M, N, K, batch, da.batch > 1 ? da.stride : 0, db.batch > 1 ? db.stride : 0, M * N, opts.bias && opts.bias.size > N ? N : 0]);
  f[8] = opts.alpha ?? 1;
  f[9] = beta;
  if (custom?.ext) u.set(custom.ext.slice(0, 4), 12);
  if (custom?.extf) f.set(custom.extf.slice(0, 4), 16);

  const bindings: Binding[] = [];
  if (isTensor(a)) bindings.push({ buffer: a.buffer, access: 'read', binding: 1 });
  if (isTensor(b)) bindings.push({ buffer: b.buffer, access: 'read', binding: 2 });
  bindings.push({ buffer: out.buffer, access: 'write', binding: 3 });
  if (opts.bias) bindings.push({ buffer: opts.bias.buffer, access: 'read', binding: 4 });
  if (custom) bindings.push(...custom.bindings);

  ctx.launch({
    op,
    shapes: { ...shapes, M, N, K, batch },
    code,
    uniforms: params,
    bindings,
    workgroups: [Math.ceil(N / (4 * tiling.wgX)), Math.ceil(M / (4 * tiling.wgY)), batch],
  });
  return out;
}
