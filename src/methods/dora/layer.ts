/**
 * DoRA (Liu et al., arXiv 2402.09353; PEFT's LoRA with use_dora=True, tuners/lora/dora.py) on the
 * GPU: LoRA's A (r, I) and B (O, r) plus a trainable magnitude m (O), initialised to the row
 * norms of W0, and
 *   W' = m ⊙ (W0 + s·B·A) / n,   n[o] = ‖(W0 + s·B·A)[o, :]‖,
 * so y = g ⊙ (x·W0ᵀ + s·x·Aᵀ·Bᵀ) + b with g = m / n. As PEFT does (the paper's §4.3), n is a
 * constant in backward: it is recomputed from the current A and B in every forward but no
 * gradient flows through it. Then, with base = x·W0ᵀ + s·x·Aᵀ·Bᵀ,
 *   dm[o] = Σ_t dY[t, o]·base[t, o] / n[o],
 *   A and B get LoRA's gradients of g ⊙ dY,
 *   dx = (g ⊙ dY)·(W0 + s·B·A) = dY·W0 + ((g − 1) ⊙ dY)·W0 + LoRA's dx of g ⊙ dY.
 * The layer's own backward has added dY·W0 to dx already; this adds the other two terms.
 */
import doraWgsl from './dora.wgsl';
import { asRows, grid1D, gridFold, kernelCode, placeholder } from '../../engine/ops/kernel';
import { matmul } from '../../engine/ops/matmul';
import { Tensor } from '../../engine/tensor';
import type { GpuContext } from '../../gpu/context';
import { loraBackward, loraForward, loraInit, type LoraWeights } from '../lora/layer';
import type { DoraConfig } from './config';

type Mode = 'ROW_NORM' | 'SCALE_OUT' | 'GRAD_OUT' | 'GRAD_M' | 'SCALE_ROWS';
const MODES: readonly Mode[] = ['ROW_NORM', 'SCALE_OUT', 'GRAD_OUT', 'GRAD_M', 'SCALE_ROWS'];

function code(mode: Mode): string {
  return kernelCode(doraWgsl, Object.fromEntries(MODES.map((m) => [m, m === mode])), 'dora.wgsl');
}

function params(rows: number, cols: number, hasBias = false): Uint32Array {
  return new Uint32Array([rows, cols, hasBias ? 1 : 0, 0]);
}

/** One DoRA layer: LoRA's factors, the magnitude, and the frozen W0 and bias it rescales. */
export interface DoraLayer {
  lora: LoraWeights;
  /** m (O), PEFT's lora_magnitude_vector. */
  magnitude: Tensor;
  W0: Tensor;
  bias?: Tensor;
}

/** Per-row L2 norms of W (rows × cols) as a new (rows) tensor. */
export function rowNorms(W: Tensor): Tensor {
  const [rows, cols] = [W.rows, W.cols];
  const out = Tensor.empty(W.ctx, [rows], 'dora_norm');
  W.ctx.launch({
    op: 'dora_row_norm',
    shapes: { W: W.shape },
    code: code('ROW_NORM'),
    uniforms: params(rows, cols),
    bindings: [
      { buffer: W.buffer, access: 'read' },
      { buffer: out.buffer, access: 'write' },
    ],
    workgroups: gridFold(rows),
  });
  return out;
}

/** W0 + s·B·A as a new (O, I) tensor. */
function adapted(layer: DoraLayer): Tensor {
  const { W0, lora: p } = layer;
  const out = Tensor.empty(W0.ctx, [W0.rows, W0.cols], 'dora_adapted');
  W0.ctx.copy(W0.buffer, 0, out.buffer, 0, W0.size * 4);
  return matmul(p.B, p.A, { alpha: p.scale, beta: 1, out, op: 'dora_adapted' });
}

/** n = ‖W0 + s·B·A‖ per output row, from the current A and B. */
export function doraNorm(layer: DoraLayer): Tensor {
  const Wp = adapted(layer);
  const n = rowNorms(Wp);
  Wp.release();
  return n;
}

/** PEFT's init: LoRA's A (seeded per layer) and B = 0, m = ‖W0‖ per row, so W' = W0 at the start. */
export function doraInit(ctx: GpuContext, W0: Tensor, bias: Tensor | undefined, seed: number, index: number, cfg: DoraConfig): DoraLayer {
  const lora = loraInit(ctx, { out: W0.rows, in: W0.cols }, seed, index, cfg);
  return { lora, magnitude: rowNorms(W0), W0, bias };
}

/** What the forward keeps for the backward (the caller releases them). */
export interface DoraSaved {
  /** x·Aᵀ (N, r) */
  h: Tensor;
  /** x·W0ᵀ + s·x·Aᵀ·Bᵀ (N, O): the output before the magnitude, without the bias. */
  base: Tensor;
  /** n (O), detached. */
  norm: Tensor;
}

/** y (N, O) holding x·W0ᵀ + b becomes g ⊙ (x·W0ᵀ + s·x·Aᵀ·Bᵀ) + b. */
export function doraForward(x: Tensor, layer: DoraLayer, y: Tensor): DoraSaved {
  const ctx = x.ctx;
  const O = layer.W0.rows;
  const y2 = asRows(y, O, 'DoRA', 'y');
  const h = loraForward(x, layer.lora, y, { save: true });
  const norm = doraNorm(layer);
  const N = y2.rows;
  const base = Tensor.empty(ctx, [N, O], 'dora_base');
  ctx.launch({
    op: 'dora_scale_out',
    shapes: { y: y.shape },
    code: code('SCALE_OUT'),
    uniforms: params(N, O, !!layer.bias),
    bindings: [
      { buffer: layer.magnitude.buffer, access: 'read' },
      { buffer: norm.buffer, access: 'read' },
      { buffer: layer.bias?.buffer ?? placeholder(ctx), access: 'read' },
      { buffer: y2.buffer, access: 'write' },
      { buffer: base.buffer, access: 'write' },
    ],
    workgroups: grid1D(N * O),
  });
  return { h, base, norm };
}

export interface DoraGrads {
  dA: Tensor;
  dB: Tensor;
  dMagnitude: Tensor;
}

/** Gradients of A, B and m (norm detached), and dx += the DoRA terms when dx holds dY·W0. */
export function doraBackward(x: Tensor, dY: Tensor, layer: DoraLayer, saved: DoraSaved, opts: { dx?: Tensor } = {}): DoraGrads {
  const ctx = x.ctx;
  const O = layer.W0.rows;
  const dY2 = asRows(dY, O, 'DoRA', 'dY');
  const N = dY2.rows;
  const dMagnitude = Tensor.empty(ctx, [O], 'dora_grad_magnitude');
  ctx.launch({
    op: 'dora_grad_m',
    shapes: { dY: dY.shape },
    code: code('GRAD_M'),
    uniforms: params(N, O),
    bindings: [
      { buffer: saved.norm.buffer, access: 'read' },
      { buffer: dY2.buffer, access: 'read' },
      { buffer: saved.base.buffer, access: 'read' },
      { buffer: dMagnitude.buffer, access: 'write' },
    ],
    workgroups: gridFold(O),
  });
  const dYg = Tensor.empty(ctx, [N, O], 'dora_dYg');
  const dYc = Tensor.empty(ctx, [N, O], 'dora_dYc');
  ctx.launch({
    op: 'dora_grad_out',
    shapes: { dY: dY.shape },
    code: code('GRAD_OUT'),
    uniforms: params(N, O),
    bindings: [
      { buffer: layer.magnitude.buffer, access: 'read' },
      { buffer: saved.norm.buffer, access: 'read' },
      { buffer: dY2.buffer, access: 'read' },
      { buffer: dYg.buffer, access: 'write' },
      { buffer: dYc.buffer, access: 'write' },
    ],
    workgroups: grid1D(N * O),
  });
  const g = loraBackward(x, dYg, layer.lora, { dx: opts.dx, h: saved.h });
  if (opts.dx) {
    matmul(dYc, layer.W0, { beta: 1, out: asRows(opts.dx, layer.W0.cols, 'DoRA', 'dx'), op: 'dora_bwd_dx_base' });
  }
  dYg.release();
  dYc.release();
  return { dA: g.dA, dB: g.dB, dMagnitude };
}

/** W' = (m / n) ⊙ (W0 + s·B·A) as a new (O, I) tensor. */
export function doraMerge(layer: DoraLayer): Tensor {
  const Wp = adapted(layer);
  const norm = rowNorms(Wp);
  const [O, I] = [Wp.rows, Wp.cols];
  Wp.ctx.launch({
    op: 'dora_scale_rows',
    shapes: { W: Wp.shape },
    code: code('SCALE_ROWS'),
    uniforms: params(O, I),
    bindings: [
      { buffer: layer.magnitude.buffer, access: 'read' },
      { buffer: norm.buffer, access: 'read' },
      { buffer: Wp.buffer, access: 'write' },
    ],
    workgroups: grid1D(O * I),
  });
  norm.release();
  return Wp;
}
