/**
 * Pooling as HF ViT and CLIP vision models define it: the hidden state of the class token
 * (token 0). ViTForImageClassification classifies `sequence_output[:, 0, :]` after the final
 * layernorm; CLIPVisionModel's pooler_output is `post_layernorm(last_hidden_state[:, 0, :])`.
 * Both directions are buffer copies in the current batch (no kernel).
 */
import { Tensor } from '../tensor';
import { copyRange } from './elementwise';
import { outTensor, shapeText } from './kernel';

function dims(op: string, shape: readonly number[], index: number): [number, number, number] {
  if (shape.length !== 3) throw new Error(`${op}: expected (batch, tokens, hidden), got ${shapeText(shape)}`);
  const [B, T, D] = shape;
  if (!Number.isInteger(index) || index < 0 || index >= T) throw new Error(`${op}: token ${index} is outside ${T} tokens`);
  return [B, T, D];
}

/** x (B, T, D) → (B, D): the row of token `index` (default 0, the class token) of every example. */
export function clsPool(x: Tensor, index = 0, out?: Tensor): Tensor {
  const [B, T, D] = dims('cls_pool', x.shape, index);
  const o = outTensor(x.ctx, 'cls_pool', [B, D], out);
  for (let b = 0; b < B; b++) copyRange(x, (b * T + index) * D, o, b * D, D);
  return o;
}

/**
 * The gradient of clsPool: dPooled (B, D) scattered into token `index` of a zeroed (B, T, D).
 * `dx`, when given, is overwritten (zeroed, then filled).
 */
export function clsPoolBackward(dPooled: Tensor, tokens: number, opts: { index?: number; dx?: Tensor } = {}): Tensor {
  const index = opts.index ?? 0;
  if (dPooled.shape.length !== 2) throw new Error(`cls_pool_backward: dPooled must be (batch, hidden), got ${shapeText(dPooled.shape)}`);
  const [B, D] = dPooled.shape;
  dims('cls_pool_backward', [B, tokens, D], index);
  const dx = outTensor(dPooled.ctx, 'cls_pool_backward', [B, tokens, D], opts.dx);
  if (dx.size > 0) dx.ctx.clear(dx.buffer, 0, dx.size * 4);
  for (let b = 0; b < B; b++) copyRange(dPooled, b * D, dx, (b * tokens + index) * D, D);
  return dx;
}
