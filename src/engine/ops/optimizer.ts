/**
 * Optimizer kernels: AdamW (torch.optim.AdamW semantics), the global gradient L2 norm with the
 * clip-by-global-norm scale computed on the GPU, and gradient accumulation helpers. Nothing here
 * reads back to the CPU: the clip scale goes from gradNorm's output tensor straight into the
 * AdamW kernel, and lr / step are uniforms, so a schedule changes them at no compile cost.
 *
 * A training step with accumulation and clipping, k micro-batches:
 *
 *   for each micro-batch: backward writes (first) or accumulates (later) into grads
 *   const norm = gradNorm(grads, { maxNorm: 1, gradScale: 1 / k });
 *   for each (param, grad, state): adamWStep(param, grad, state, { lr, step, clip: norm, gradScale: 1 / k });
 */
import optimizerWgsl from '../../../shaders/optimizer.wgsl';
import type { Binding } from '../../gpu/context';
import { Tensor } from '../tensor';
import { accumulate, scale } from './elementwise';
import { grid1D, kernelCode, outTensor, placeholder, sameSize, shapeText, uniforms } from './kernel';

const KERNELS = {
  adamw: { ADAMW: true, ADAMW_MULTI: false, NORM_PARTIAL: false, NORM_FINAL: false, NORM_ONE: false, MAX_SEGS: 1 },
  partial: { ADAMW: false, ADAMW_MULTI: false, NORM_PARTIAL: true, NORM_FINAL: false, NORM_ONE: false, MAX_SEGS: 1 },
  final: { ADAMW: false, ADAMW_MULTI: false, NORM_PARTIAL: false, NORM_FINAL: true, NORM_ONE: false, MAX_SEGS: 1 },
  one: { ADAMW: false, ADAMW_MULTI: false, NORM_PARTIAL: false, NORM_FINAL: false, NORM_ONE: true, MAX_SEGS: 1 },
} as const;

/** Table sizes the multi-tensor kernel is compiled for (few variants); more segments take more launches. */
const SEGMENT_TABLE_SIZES = [16, 64, 256, 1024] as const;

/** First and second moments of one parameter, same shape as it, zero at the start. */
export interface AdamWState {
  m: Tensor;
  v: Tensor;
}

export function adamWState(param: Tensor): AdamWState {
  return {
    m: Tensor.zeros(param.ctx, param.shape, `${param.label}-adam-m`),
    v: Tensor.zeros(param.ctx, param.shape, `${param.label}-adam-v`),
  };
}

export interface AdamWStepOptions {
  /** Learning rate for this step (from the schedule). */
  lr: number;
  /** 1-based step count, for the bias corrections 1 − β1ᵗ and 1 − β2ᵗ. */
  step: number;
  /** Defaults as torch.optim.AdamW: β = (0.9, 0.999), eps 1e-8, weight decay 0.01. */
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay; pass 0 for biases and norms if the recipe excludes them. */
  weightDecay?: number;
  /** Multiplies the gradient first (1/k after k accumulated micro-batches). Default 1. */
  gradScale?: number;
  /**
   * The output of gradNorm: its clip scale (element 1) multiplies the gradient, and its skip flag
   * (element 3, set for non-finite gradients or a diverged run) makes the update a no-op.
   */
  clip?: Tensor;
}

/** The AdamW kernels' buffers (both update kernels bind the same slots). */
function adamWBindings(param: Tensor, grad: Tensor, state: AdamWState, clip: Tensor | undefined): Binding[] {
  return [
    { buffer: grad.buffer, access: 'read' },
    { buffer: clip?.buffer ?? placeholder(param.ctx), access: 'read' },
    { buffer: param.buffer, access: 'write' },
    { buffer: state.m.buffer, access: 'write' },
    { buffer: state.v.buffer, access: 'write' },
  ];
}

/** One AdamW update of `param` in place from `grad`, updating `state`. */
export function adamWStep(param: Tensor, grad: Tensor, state: AdamWState, o: AdamWStepOptions): void {
  const op = 'adamw';
  const want = `${param.size} values like the parameter ${shapeText(param.shape)}`;
  sameSize(op, 'grad', grad, param.size, want);
  sameSize(op, 'm', state.m, param.size, want);
  sameSize(op, 'v', state.v, param.size, want);
  if (!Number.isInteger(o.step) || o.step < 1) throw new Error(`${op}: step must be a positive integer (1 for the first update), got ${o.step}`);
  if (!Number.isFinite(o.lr)) throw new Error(`${op}: learning rate must be finite, got ${o.lr}`);
  if (o.clip) sameSize(op, 'clip', o.clip, GRAD_NORM_SIZE, `the ${GRAD_NORM_SIZE}-value output of gradNorm`);
  const beta1 = o.beta1 ?? 0.9;
  const beta2 = o.beta2 ?? 0.999;
  const { buffer, u, f } = uniforms(12);
  u.set([param.size, o.clip ? 1 : 0]);
  f.set([1 - beta1, 1 - beta2], 2);
  // Bias corrections in float64 on the CPU: 1 − β2ᵗ is tiny for early steps.
  f.set([o.lr, beta1, beta2, o.eps ?? 1e-8, o.weightDecay ?? 0.01, o.lr / (1 - beta1 ** o.step), Math.sqrt(1 - beta2 ** o.step), o.gradScale ?? 1], 4);
  if (param.size === 0) return;
  param.ctx.launch({
    op,
    shapes: { param: param.shape },
    code: kernelCode(optimizerWgsl, KERNELS.adamw, 'optimizer.wgsl'),
    uniforms: buffer,
    bindings: adamWBindings(param, grad, state, o.clip),
    workgroups: grid1D(param.size),
  });
}

/** One tensor's slice of the flat buffers of adamWStepMulti, with its own learning rate and decay. */
export interface AdamWSegment {
  /** First element of the slice in the flat buffers. */
  offset: number;
  size: number;
  lr: number;
  /** Decoupled weight decay of this slice (0: none). */
  weightDecay: number;
  /** false leaves the slice (parameter and moments) untouched this step, e.g. no gradient reached it. */
  active?: boolean;
}

export type AdamWMultiOptions = Omit<AdamWStepOptions, 'lr' | 'weightDecay'>;

/**
 * AdamW over many tensors in one launch (per SEGMENT_TABLE_SIZES' largest table of segments):
 * `param`, `grad` and `state` are flat buffers in which each segment is one tensor's slice, with
 * that segment's lr and weight decay. Element by element the arithmetic is adamWStep's, so a
 * tensor updated here or alone gets the same bits.
 */
export function adamWStepMulti(param: Tensor, grad: Tensor, state: AdamWState, segments: readonly AdamWSegment[], o: AdamWMultiOptions): void {
  const op = 'adamw_multi';
  const want = `${param.size} values like the flat parameter buffer`;
  sameSize(op, 'grad', grad, param.size, want);
  sameSize(op, 'm', state.m, param.size, want);
  sameSize(op, 'v', state.v, param.size, want);
  if (!Number.isInteger(o.step) || o.step < 1) throw new Error(`${op}: step must be a positive integer (1 for the first update), got ${o.step}`);
  if (o.clip) sameSize(op, 'clip', o.clip, GRAD_NORM_SIZE, `the ${GRAD_NORM_SIZE}-value output of gradNorm`);
  let end = 0;
  for (const [i, s] of segments.entries()) {
    if (!(Number.isInteger(s.offset) && Number.isInteger(s.size) && s.offset >= end && s.size >= 0 && s.offset + s.size <= param.size)) {
      throw new Error(`${op}: segment ${i} (offset ${s.offset}, size ${s.size}) must be sorted after the previous one (which ends at ${end}) and lie within the ${param.size} values`);
    }
    if (!Number.isFinite(s.lr)) throw new Error(`${op}: segment ${i}'s learning rate must be finite, got ${s.lr}`);
    end = s.offset + s.size;
  }
  const live = segments.filter((s) => s.size > 0);
  const beta1 = o.beta1 ?? 0.9;
  const beta2 = o.beta2 ?? 0.999;
  const bc1 = 1 - beta1 ** o.step;
  const largest = SEGMENT_TABLE_SIZES[SEGMENT_TABLE_SIZES.length - 1];
  for (let first = 0; first < live.length; first += largest) {
    const chunk = live.slice(first, first + largest);
    const table = SEGMENT_TABLE_SIZES.find((n) => n >= chunk.length)!;
    const base = chunk[0].offset;
    const last = chunk[chunk.length - 1];
    const n = last.offset + last.size - base;
    const { buffer, u, f } = uniforms(12 + 8 * table);
    u.set([base, n, chunk.length, o.clip ? 1 : 0]);
    // Bias corrections in float64 on the CPU, as adamWStep.
    f.set([1 - beta1, 1 - beta2, beta1, beta2, o.eps ?? 1e-8, Math.sqrt(1 - beta2 ** o.step), o.gradScale ?? 1], 4);
    chunk.forEach((s, k) => {
      const at = 12 + 8 * k;
      u.set([s.offset, s.offset + s.size, s.active === false ? 0 : 1], at);
      f.set([s.lr, s.weightDecay, s.lr / bc1], at + 4);
    });
    param.ctx.launch({
      op,
      shapes: { param: param.shape, segments: chunk.length },
      code: kernelCode(optimizerWgsl, { ADAMW: false, ADAMW_MULTI: true, NORM_PARTIAL: false, NORM_FINAL: false, NORM_ONE: false, MAX_SEGS: table }, 'optimizer.wgsl'),
      uniforms: buffer,
      bindings: adamWBindings(param, grad, state, o.clip),
      workgroups: grid1D(n),
    });
  }
}

/** Partial sums per tensor: at most this many workgroups, each a strided loop over the tensor. */
const PARTIALS_PER_TENSOR = 32;

/** Up to this many values, one tensor's norm is one launch (a 256-thread loop of ≤ 256 steps). */
const ONE_LAUNCH_MAX = 65536;

export interface GradNormOptions {
  /** Clip threshold; ≤ 0 or absent gives clip scale 1. */
  maxNorm?: number;
  /** The gradients are gradScale·grads (e.g. 1/k after k accumulated micro-batches). Default 1. */
  gradScale?: number;
  /**
   * Partial sums (workgroups) per tensor, default 32: a flat buffer holding every gradient as one
   * tensor wants more, so that the strided loops stay short on a GPU.
   */
  partialsPerTensor?: number;
  /** Preallocated output of GRAD_NORM_SIZE values; required with `health`. */
  out?: Tensor;
  /**
   * Keep the divergence counters in `out` across steps (`out` must start zeroed and be reused):
   * `step` is this update's 1-based step, `patience` how many non-finite steps in a row make the
   * run diverged (from then on every update is skipped).
   */
  health?: { step: number; patience: number };
}

/**
 * Layout of gradNorm's output: the norm, the clip scale, Σ g², the skip flag AdamW reads, and
 * (with `health`) the current run of non-finite steps, the step at which the run diverged (0 if
 * it has not) and the total count of skipped steps.
 */
export const GRAD_NORM = { norm: 0, clipScale: 1, sumSquares: 2, skip: 3, badStreak: 4, divergedAt: 5, badSteps: 6 } as const;
export const GRAD_NORM_SIZE = 8;

/**
 * Global L2 norm over all gradient tensors (layout in GRAD_NORM), computed in two stages entirely
 * on the GPU. Pass the result as `clip` to adamWStep to clip by global norm, and to skip updates
 * whose gradients are not finite, without a readback; read it (readGradNorm) only when logging.
 */
export function gradNorm(grads: readonly Tensor[], opts: GradNormOptions = {}): Tensor {
  if (grads.length === 0) throw new Error('grad_norm: no gradient tensors given');
  const ctx = grads[0].ctx;
  if (opts.health && !opts.out) throw new Error('grad_norm: health tracking needs a persistent, zeroed `out` tensor');
  const out = outTensor(ctx, 'grad_norm', [GRAD_NORM_SIZE], opts.out, 'grad-norm');
  const { buffer, u, f } = uniforms(8);
  const finalUniforms = (count: number) => {
    u.set([count, opts.health ? 1 : 0, opts.health?.step ?? 0, opts.health?.patience ?? 0]);
    f[4] = opts.maxNorm ?? 0;
    f[5] = opts.gradScale ?? 1;
    return buffer;
  };
  // One small tensor (the trainer's flat gradient of adapters): a single workgroup's loop is
  // short, so both stages run as one launch.
  if (grads.length === 1 && grads[0].size > 0 && grads[0].size <= ONE_LAUNCH_MAX) {
    ctx.launch({
      op: 'grad_norm',
      shapes: { grad: grads[0].shape },
      code: kernelCode(optimizerWgsl, KERNELS.one, 'optimizer.wgsl'),
      uniforms: finalUniforms(grads[0].size),
      bindings: [
        { buffer: grads[0].buffer, access: 'read' },
        { buffer: out.buffer, access: 'write' },
      ],
      workgroups: [1],
    });
    return out;
  }
  const perTensor = opts.partialsPerTensor ?? PARTIALS_PER_TENSOR;
  if (!(Number.isInteger(perTensor) && perTensor >= 1 && perTensor <= 65535)) throw new Error(`grad_norm: partialsPerTensor must be an integer in 1…65535, got ${perTensor}`);
  const count = grads.length * perTensor;
  const partials = ctx.buffer(count * 4, 'grad-norm-partials');
  // Slots of small tensors that use fewer workgroups must read as 0.
  ctx.clear(partials, 0, count * 4);
  grads.forEach((g, t) => {
    if (g.size === 0) return;
    const groups = Math.min(perTensor, Math.ceil(g.size / 1024));
    const { buffer, u } = uniforms(4);
    u.set([g.size, t * perTensor]);
    ctx.launch({
      op: 'grad_norm_partial',
      shapes: { grad: g.shape },
      code: kernelCode(optimizerWgsl, KERNELS.partial, 'optimizer.wgsl'),
      uniforms: buffer,
      bindings: [
        { buffer: g.buffer, access: 'read' },
        { buffer: partials, access: 'write' },
      ],
      workgroups: [groups],
    });
  });
  ctx.launch({
    op: 'grad_norm_final',
    shapes: { tensors: grads.length },
    code: kernelCode(optimizerWgsl, KERNELS.final, 'optimizer.wgsl'),
    uniforms: finalUniforms(count),
    bindings: [
      { buffer: partials, access: 'read' },
      { buffer: out.buffer, access: 'write' },
    ],
    workgroups: [1],
  });
  ctx.release(partials);
  return out;
}

export interface GradNormReading {
  norm: number;
  clipScale: number;
  /** This step's update was skipped (non-finite gradients, or the run had diverged). */
  skipped: boolean;
  /** With health tracking: the step at which the run diverged, or 0. */
  divergedAt: number;
  /** With health tracking: how many updates were skipped so far. */
  badSteps: number;
}

export async function readGradNorm(t: Tensor): Promise<GradNormReading> {
  const v = await t.read();
  return {
    norm: v[GRAD_NORM.norm],
    clipScale: v[GRAD_NORM.clipScale],
    skipped: v[GRAD_NORM.skip] !== 0,
    divergedAt: v[GRAD_NORM.divergedAt],
    badSteps: v[GRAD_NORM.badSteps],
  };
}

/** acc += g (gradient accumulation over micro-batches). */
export function accumulateGrad(acc: Tensor, g: Tensor): Tensor {
  return accumulate(acc, g, 1, 1);
}

/** g ← s·g in place (e.g. averaging accumulated gradients when not using gradScale). */
export function scaleGrad(g: Tensor, s: number): Tensor {
  return scale(g, s, g);
}

/** g ← 0 (a cleared buffer in the current batch). */
export function zeroGrad(g: Tensor): Tensor {
  if (g.size > 0) g.ctx.clear(g.buffer, 0, g.size * 4);
  return g;
}
