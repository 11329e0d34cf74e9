/**
 * Row-wise L2 normalisation, x / ‖x‖ over the last dimension (CLIP's `embeds / embeds.norm(dim=-1)`),
 * forward and backward. CLIP's zero-shot logits are cosine similarities, so the image embedding
 * is normalised inside the training graph and gradients flow through it to the backbone.
 * Kernel: shaders/normalize.wgsl.
 */
import normalizeWgsl from '../../../shaders/normalize.wgsl';
import { Tensor } from '../tensor';
import { grid1D, kernelCode, outTensor, placeholder, sameSize, shapeText, uniforms } from './kernel';

export interface L2NormalizeResult {
  y: Tensor;
  /** 1/‖x‖ per row, (rows): keep it with y for the backward. */
  rnorm: Tensor;
}

function launch(op: string, x: Tensor, dy: Tensor | undefined, y: Tensor, r: Tensor, rows: number, cols: number): void {
  if (rows === 0) return;
  const { buffer, u } = uniforms(4);
  u.set([rows, cols]);
  x.ctx.launch({
    op,
    shapes: { x: x.shape },
    code: kernelCode(normalizeWgsl, { BACKWARD: !!dy }, 'normalize.wgsl'),
    uniforms: buffer,
    bindings: [
      { buffer: x.buffer, access: 'read' },
      { buffer: dy?.buffer ?? placeholder(x.ctx), access: 'read' },
      { buffer: y.buffer, access: 'write' },
      { buffer: r.buffer, access: 'write' },
    ],
    workgroups: grid1D(Math.ceil(rows / 64), 1),
  });
}

/** y = x / ‖x‖ per row of x (…, D). */
export function l2Normalize(x: Tensor, opts: { out?: Tensor } = {}): L2NormalizeResult {
  const op = 'l2_normalize';
  const cols = x.cols;
  const rows = cols > 0 ? x.size / cols : 0;
  const y = outTensor(x.ctx, op, x.shape, opts.out);
  const rnorm = Tensor.empty(x.ctx, [rows], 'l2-rnorm');
  launch(op, x, undefined, y, rnorm, rows, cols);
  return { y, rnorm };
}

/** dx = (dy − y·⟨y, dy⟩)/‖x‖ per row, from the forward's y and rnorm. */
export function l2NormalizeBackward(dy: Tensor, saved: L2NormalizeResult): Tensor {
  const op = 'l2_normalize_backward';
  const { y, rnorm } = saved;
  sameSize(op, 'dy', dy, y.size, `the shape of y ${shapeText(y.shape)}`);
  const cols = y.cols;
  const rows = cols > 0 ? y.size / cols : 0;
  const dx = Tensor.empty(y.ctx, y.shape, op);
  launch(op, y, dy, dx, rnorm, rows, cols);
  return dx;
}
