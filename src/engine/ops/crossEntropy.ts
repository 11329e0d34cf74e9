/**
 * Softmax cross-entropy over logits (B, classes) with integer labels and optional label
 * smoothing, as torch.nn.CrossEntropyLoss(label_smoothing=ε) with mean reduction, which is what
 * HF's ViTForImageClassification uses for single-label classification. One launch gives the
 * per-example losses, the argmax predictions, dlogits (the loss's gradient, already divided by
 * the number of counted examples) and a small statistics tensor that stays on the GPU and can
 * accumulate over steps, so the loss is read back only when someone looks at it.
 */
import crossEntropyWgsl from '../../../shaders/cross_entropy.wgsl';
import type { GpuContext } from '../../gpu/context';
import { Tensor } from '../tensor';
import { kernelCode, outTensor, placeholder, shapeText, uniforms } from './kernel';

/** Layout of the statistics tensor (8 floats). */
export const STATS = { lossSum: 0, correct: 1, count: 2, meanLoss: 3, accuracy: 4 } as const;
export const STATS_SIZE = 8;

export interface LossStats {
  /** Σ loss over counted examples. */
  lossSum: number;
  /** Examples whose argmax equals the label. */
  correct: number;
  /** Examples with a label in [0, classes). */
  count: number;
  meanLoss: number;
  accuracy: number;
}

/**
 * Uploads labels as the f32 class-index tensor crossEntropy reads. Negative labels (HF's -100)
 * mean "ignore"; anything else must be an integer below `classes`.
 */
export function labelTensor(ctx: GpuContext, labels: ArrayLike<number>, classes: number, label = 'labels'): Tensor {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l >= classes) {
      throw new Error(`labels[${i}] is ${l}, but the model has ${classes} classes (use 0..${classes - 1}, or a negative value to ignore an example)`);
    }
  }
  return Tensor.from(ctx, [labels.length], Float32Array.from(labels, (l) => (l < 0 ? -1 : l)), label);
}

export interface CrossEntropyOptions {
  /** Label smoothing ε in [0, 1) (default 0). */
  smoothing?: number;
  /** Write dlogits (default true; false for evaluation). */
  grad?: boolean;
  /**
   * Multiplies dlogits (default 1). dlogits is already the gradient of the batch mean; with k
   * micro-batches accumulated into one step pass 1/k here (or scale in the optimizer).
   */
  gradScale?: number;
  /** Add this batch into `stats` instead of overwriting it (sums, counts; mean and accuracy recomputed). */
  accumulateStats?: boolean;
  /** Preallocated outputs. */
  dlogits?: Tensor;
  losses?: Tensor;
  predictions?: Tensor;
  stats?: Tensor;
}

/** Whether the kernel's row max / sum / argmax run through subgroup operations on this context. */
export function crossEntropyUsesSubgroups(ctx: GpuContext): boolean {
  return ctx.subgroupReductions;
}

export interface CrossEntropyResult {
  /** Per-example loss (B); 0 for ignored examples. */
  losses: Tensor;
  /** argmax class per example (B), as f32 (the first maximum on ties). */
  predictions: Tensor;
  /** [Σ loss, correct, count, mean loss, accuracy, 0, 0, 0]: see STATS and readStats. */
  stats: Tensor;
  /** d(mean loss)/dlogits (B, C), times gradScale, unless grad: false. */
  dlogits?: Tensor;
}

function launchCrossEntropy(
  logits: Tensor,
  labels: Tensor | undefined,
  out: { dlogits?: Tensor; losses: Tensor; predictions: Tensor; stats: Tensor },
  flags: number,
  smoothing: number,
  gradScale: number,
): void {
  const ctx = logits.ctx;
  const [B, C] = [logits.rows, logits.cols];
  const { buffer, u, f } = uniforms(8);
  u.set([B, C, flags]);
  f[4] = smoothing;
  f[5] = gradScale;
  ctx.launch({
    op: 'cross_entropy',
    shapes: { logits: logits.shape },
    code: kernelCode(crossEntropyWgsl, { SUBGROUPS: crossEntropyUsesSubgroups(ctx) }, 'cross_entropy.wgsl'),
    uniforms: buffer,
    bindings: [
      { buffer: logits.buffer, access: 'read' },
      { buffer: labels?.buffer ?? placeholder(ctx), access: 'read' },
      { buffer: out.dlogits?.buffer ?? placeholder(ctx, 'write'), access: 'write' },
      { buffer: out.losses.buffer, access: 'write' },
      { buffer: out.predictions.buffer, access: 'write' },
      { buffer: out.stats.buffer, access: 'write' },
    ],
    workgroups: [1],
  });
}

/** Cross-entropy loss, predictions, statistics and (by default) dlogits for logits (B, C) and labels (B). */
export function crossEntropy(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): CrossEntropyResult {
  const op = 'cross_entropy';
  if (logits.shape.length !== 2) throw new Error(`${op}: logits must be (batch, classes), got ${shapeText(logits.shape)}`);
  const [B, C] = logits.shape;
  if (labels.size !== B) throw new Error(`${op}: ${labels.size} labels for a batch of ${B} logits rows`);
  const smoothing = opts.smoothing ?? 0;
  if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`${op}: label smoothing must be in [0, 1), got ${smoothing}`);
  if (opts.accumulateStats && !opts.stats) throw new Error(`${op}: accumulateStats needs the stats tensor to add into`);
  const ctx = logits.ctx;
  const grad = opts.grad ?? true;
  const result: CrossEntropyResult = {
    losses: outTensor(ctx, op, [B], opts.losses, 'losses'),
    predictions: outTensor(ctx, op, [B], opts.predictions, 'predictions'),
    stats: outTensor(ctx, op, [STATS_SIZE], opts.stats, 'loss-stats'),
    dlogits: grad ? outTensor(ctx, op, [B, C], opts.dlogits, 'dlogits') : undefined,
  };
  launchCrossEntropy(logits, labels, result, (grad ? 1 : 0) | (opts.accumulateStats ? 2 : 0), smoothing, opts.gradScale ?? 1);
  return result;
}

/** argmax over the last dimension of logits (B, C), as f32 class indices (B). */
export function argmax(logits: Tensor, out?: Tensor): Tensor {
  if (logits.shape.length !== 2) throw new Error(`argmax: logits must be (batch, classes), got ${shapeText(logits.shape)}`);
  const ctx = logits.ctx;
  const predictions = outTensor(ctx, 'argmax', [logits.rows], out, 'predictions');
  const losses = Tensor.empty(ctx, [logits.rows], 'argmax-losses');
  const stats = Tensor.empty(ctx, [STATS_SIZE], 'argmax-stats');
  launchCrossEntropy(logits, undefined, { losses, predictions, stats }, 4, 0, 1);
  losses.release();
  stats.release();
  return predictions;
}

/** Reads a statistics tensor back (one small readback). */
export async function readStats(stats: Tensor): Promise<LossStats> {
  const s = await stats.read();
  return { lossSum: s[0], correct: s[1], count: s[2], meanLoss: s[3], accuracy: s[4] };
}
