/**
 * LoRA (PEFT's parameterisation) on the GPU: ΔW = s·B·A with A (r, I) and B (O, r), s = α/r
 * (α/√r for rsLoRA). Every product is the shared GEMM; the rank-r intermediates are the only
 * temporaries, so no O×I tensor is formed except by `loraMerge`, whose job that is.
 */
import { Tensor } from '../../engine/tensor';
import type { GpuContext } from '../../gpu/context';
import { randomArray, type Distribution } from '../../engine/random';
import { randomTensor } from '../../engine/randomTensor';
import { STREAMS } from '../../engine/streams';
import { asRows } from '../../engine/ops/kernel';
import { matmul } from '../../engine/ops/matmul';

import { LORA_DEFAULTS, type LoraConfig } from './config';

export { LORA_DEFAULTS, type LoraConfig } from './config';

export function loraScaling(cfg: Pick<LoraConfig, 'r' | 'alpha' | 'rslora'>): number {
  if (!(cfg.r >= 1) || !Number.isInteger(cfg.r)) throw new Error(`LoRA rank r must be a positive integer, got ${cfg.r}`);
  return cfg.rslora ? cfg.alpha / Math.sqrt(cfg.r) : cfg.alpha / cfg.r;
}

/** The trainable factors of one layer and its scaling. */
export interface LoraWeights {
  /** (r, I) */
  A: Tensor;
  /** (O, r) */
  B: Tensor;
  /** s = α/r or α/√r. */
  scale: number;
}

/**
 * The stream for tensor kind `base` of layer `layer`. Layers sit 2¹⁶ apart, above the 16-bit
 * kind ids in STREAMS, so no (kind, layer) pair meets another while the kinds differ in their
 * low 16 bits and a model has fewer than 65536 adapted layers. Layer 0 keeps the bare kind id.
 */
export function layerStream(base: number, layer: number): number {
  if (!Number.isInteger(layer) || layer < 0 || layer > 0xffff) {
    throw new Error(`layer index must be an integer in [0, 65535], got ${layer}`);
  }
  return (base + layer * 0x10000) >>> 0;
}

/**
 * PEFT draws A with kaiming_uniform_(a=√5) over fan_in = I, i.e. gain √(1/3), std gain/√I and
 * bound √3·std = 1/√I, which is nn.Linear's default init.
 */
export function loraADistribution(I: number): Distribution {
  const bound = 1 / Math.sqrt(I);
  return { kind: 'uniform', lo: -bound, hi: bound };
}

/** CPU mirror of `loraInitA` in float64 (the GPU values are these rounded through f32 arithmetic). */
export function loraInitAArray(r: number, I: number, seed: number, layer = 0): Float64Array {
  return randomArray(r * I, seed, layerStream(STREAMS.loraA, layer), loraADistribution(I));
}

/** Initial factors for a layer of shape (O, I): A seeded per layer, B zero so ΔW starts at 0. */
export function loraInit(
  ctx: GpuContext,
  shape: { out: number; in: number },
  seed: number,
  layer = 0,
  cfg: LoraConfig = LORA_DEFAULTS,
): LoraWeights {
  const scale = loraScaling(cfg);
  const A = randomTensor(ctx, [cfg.r, shape.in], seed, layerStream(STREAMS.loraA, layer), loraADistribution(shape.in), 'lora_A');
  const B = Tensor.zeros(ctx, [shape.out, cfg.r], 'lora_B');
  return { A, B, scale };
}

function dimsOf(p: LoraWeights): { r: number; I: number; O: number } {
  if (p.A.shape.length !== 2 || p.B.shape.length !== 2 || p.A.rows !== p.B.cols) {
    throw new Error(`LoRA: A must be (r, I) and B (O, r), got A [${p.A.shape.join(',')}] and B [${p.B.shape.join(',')}]`);
  }
  return { r: p.A.rows, I: p.A.cols, O: p.B.rows };
}

/** Views a (..., n) activation as (N, n) so leading batch dimensions fold into the token count. */
const rows2d = (t: Tensor, n: number, what: string): Tensor => asRows(t, n, 'LoRA', what);

/** W + s·B·A as a new (O, I) tensor, in one GEMM onto a copy of W. */
export function loraMerge(W: Tensor, p: LoraWeights): Tensor {
  const { I, O } = dimsOf(p);
  if (W.rows !== O || W.cols !== I || W.shape.length !== 2) {
    throw new Error(`loraMerge: W has shape [${W.shape.join(',')}], the adapter needs [${O},${I}]`);
  }
  const out = Tensor.empty(W.ctx, [O, I], 'lora_merged');
  W.ctx.copy(W.buffer, 0, out.buffer, 0, W.size * 4);
  return matmul(p.B, p.A, { alpha: p.scale, beta: 1, out, op: 'lora_merge' });
}

/**
 * y += s·(x·Aᵀ)·Bᵀ. With `save`, returns h = x·Aᵀ (N, r) for `loraBackward`, which the caller
 * releases; otherwise h goes back to the pool here.
 */
export function loraForward(x: Tensor, p: LoraWeights, y: Tensor, opts: { save: true }): Tensor;
export function loraForward(x: Tensor, p: LoraWeights, y: Tensor, opts?: { save?: false }): undefined;
export function loraForward(x: Tensor, p: LoraWeights, y: Tensor, opts: { save?: boolean } = {}): Tensor | undefined {
  const { I, O } = dimsOf(p);
  const x2 = rows2d(x, I, 'x');
  const y2 = rows2d(y, O, 'y');
  if (x2.rows !== y2.rows) throw new Error(`loraForward: x has ${x2.rows} rows but y has ${y2.rows}`);
  const h = matmul(x2, p.A, { transB: true, op: 'lora_fwd_h' });
  matmul(h, p.B, { transB: true, alpha: p.scale, beta: 1, out: y2, op: 'lora_fwd_y' });
  if (opts.save) return h;
  h.release();
  return undefined;
}

export interface LoraGrads {
  /** dL/dA (r, I) */
  dA: Tensor;
  /** dL/dB (O, r) */
  dB: Tensor;
}

/**
 * Gradients of A and B from x (N, I) and dY (N, O), and dx += dY·ΔW when `dx` is given.
 * dB = s·dYᵀ·h, dh = s·dY·B, dA = dhᵀ·x, dx += dh·A: four rank-r GEMMs, no O×I temporary.
 * Pass the h that `loraForward` saved, or it is recomputed.
 */
export function loraBackward(x: Tensor, dY: Tensor, p: LoraWeights, opts: { dx?: Tensor; h?: Tensor } = {}): LoraGrads {
  const { r, I, O } = dimsOf(p);
  const x2 = rows2d(x, I, 'x');
  const dY2 = rows2d(dY, O, 'dY');
  const N = x2.rows;
  if (dY2.rows !== N) throw new Error(`loraBackward: x has ${N} rows but dY has ${dY2.rows}`);
  let h = opts.h;
  if (h && h.size !== N * r) throw new Error(`loraBackward: saved h has shape [${h.shape.join(',')}], needs [${N},${r}]`);
  const ownH = !h;
  h ??= matmul(x2, p.A, { transB: true, op: 'lora_fwd_h' });
  const h2 = h.shape.length === 2 ? h : h.reshape([N, r]);
  const dB = matmul(dY2, h2, { transA: true, alpha: p.scale, op: 'lora_bwd_dB' });
  if (ownH) h.release();
  const dh = matmul(dY2, p.B, { alpha: p.scale, op: 'lora_bwd_dh' });
  const dA = matmul(dh, x2, { transA: true, op: 'lora_bwd_dA' });
  if (opts.dx) matmul(dh, p.A, { beta: 1, out: rows2d(opts.dx, I, 'dx'), op: 'lora_bwd_dx' });
  dh.release();
  return { dA, dB };
}
