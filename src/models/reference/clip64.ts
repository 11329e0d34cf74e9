/**
 * CLIP's joint-embedding side in float64, as transformers' CLIPModel computes it, independent of
 * the GPU code: the text tower (token + position embeddings, pre-LN blocks with a causal mask,
 * final_layer_norm, the hidden state at the end-of-text position, text_projection), the image
 * embedding (post_layernorm of CLS, visual_projection) and zero-shot logits
 * logit_scale.exp()·⟨x/‖x‖, class embedding⟩. Each prompt runs unpadded at its own length, so a
 * GPU result from padded batches that matches shows the padding changes nothing.
 */
import { eosPosition, TEXT_NAMES, TEXT_PROJECTION, textBlockModules, VISUAL_PROJECTION, type TextSpec } from '../textSpec';
import { add, addRow, gelu, layerNorm, matmul, permute, quickGelu, reshape, scale, selectRows, softmax, Tape, type Value } from './autograd64';

type Weights = ReadonlyMap<string, ArrayLike<number>>;

function weight(w: Weights, name: string): ArrayLike<number> {
  const v = w.get(name);
  if (!v) throw new Error(`clip64: weights have no "${name}"`);
  return v;
}

/** Text embeddings (N, projection_dim), not normalised, one row per id sequence. */
export function textEmbeddings64(spec: TextSpec, w: Weights, sequences: readonly (readonly number[])[]): Float64Array {
  const D = spec.hidden;
  const H = spec.heads;
  const dh = D / H;
  const P = spec.projectionDim;
  const act = spec.act === 'quick_gelu' ? quickGelu : gelu;
  const out = new Float64Array(sequences.length * P);
  sequences.forEach((ids, n) => {
    const T = ids.length;
    const tape = new Tape();
    const c = (name: string, shape: number[]) => tape.constant(Float64Array.from(weight(w, name)), shape, name);
    const tok = c(TEXT_NAMES.token, [spec.vocabSize, D]);
    const pos = c(TEXT_NAMES.position, [spec.maxPositions, D]);
    let h = add(selectRows(tok, ids), selectRows(pos, Array.from({ length: T }, (_, t) => t)));
    const mask = new Float64Array(H * T * T);
    for (let hh = 0; hh < H; hh++) for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[(hh * T + i) * T + j] = -Infinity;
    const maskV = tape.constant(mask, [H, T, T]);
    const ln = (x: Value, m: string) => layerNorm(x, c(`${m}.weight`, [D]), c(`${m}.bias`, [D]), spec.eps);
    const lin = (x: Value, m: string, o: number, i: number) => addRow(matmul(x, c(`${m}.weight`, [o, i]), { transB: true }), c(`${m}.bias`, [o]));
    const split = (x: Value) => reshape(permute(reshape(x, [T, H, dh]), [1, 0, 2]), [H, T, dh]);
    const merge = (x: Value) => reshape(permute(x, [1, 0, 2]), [T, D]);
    for (let i = 0; i < spec.layers; i++) {
      const m = textBlockModules(i);
      const x1 = ln(h, m.ln1);
      const q = split(lin(x1, m.query, D, D));
      const k = split(lin(x1, m.key, D, D));
      const v = split(lin(x1, m.value, D, D));
      const probs = softmax(add(scale(matmul(q, k, { transB: true }), 1 / Math.sqrt(dh)), maskV));
      h = add(h, lin(merge(matmul(probs, v)), m.attnOut, D, D));
      const x2 = ln(h, m.ln2);
      h = add(h, lin(act(lin(x2, m.fc1, spec.intermediate, D)), m.fc2, D, spec.intermediate));
    }
    const normed = ln(h, TEXT_NAMES.finalLayernorm);
    const pooled = selectRows(normed, [eosPosition(ids, spec.eosTokenId)]);
    const proj = matmul(pooled, c(TEXT_PROJECTION, [P, D]), { transB: true });
    out.set(proj.data, n * P);
  });
  return out;
}

/** Row-wise x/‖x‖. */
export function normalizeRows64(x: ArrayLike<number>, cols: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[r * cols + j] ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j] * inv;
  }
  return out;
}

/**
 * Image embeddings (B, projection_dim), not normalised, from the vision encoder's output
 * (B·T, D) (transformer64's 'encoder_output'): CLS row, post_layernorm, visual_projection.
 */
export function imageEmbeddings64(encoderOutput: ArrayLike<number>, batch: number, tokens: number, hidden: number, eps: number, postLayernorm: string, w: Weights, projectionDim: number): Float64Array {
  const tape = new Tape();
  const h = tape.constant(Float64Array.from(encoderOutput), [batch * tokens, hidden]);
  const cls = selectRows(h, Array.from({ length: batch }, (_, b) => b * tokens));
  const c = (name: string, shape: number[]) => tape.constant(Float64Array.from(weight(w, name)), shape, name);
  const normed = layerNorm(cls, c(`${postLayernorm}.weight`, [hidden]), c(`${postLayernorm}.bias`, [hidden]), eps);
  return matmul(normed, c(VISUAL_PROJECTION, [projectionDim, hidden]), { transB: true }).data;
}

/** logit_scale.exp()·⟨image/‖image‖, class⟩ for unit class embeddings (C, P): (B, C). */
export function zeroShotLogits64(imageEmb: ArrayLike<number>, classEmb: ArrayLike<number>, dim: number, logitScaleParam: number): Float64Array {
  const img = normalizeRows64(imageEmb, dim);
  const B = img.length / dim;
  const C = classEmb.length / dim;
  const s = Math.exp(logitScaleParam);
  const out = new Float64Array(B * C);
  for (let b = 0; b < B; b++) for (let k = 0; k < C; k++) {
    let d = 0;
    for (let j = 0; j < dim; j++) d += img[b * dim + j] * classEmb[k * dim + j];
    out[b * C + k] = s * d;
  }
  return out;
}

/** The CLIP notebook's class embedding in float64: mean of normalised prompt embeddings, normalised. */
export function classEmbeddings64(textEmb: ArrayLike<number>, classes: number, perClass: number, dim: number): Float64Array {
  const unit = normalizeRows64(textEmb, dim);
  const mean = new Float64Array(classes * dim);
  for (let k = 0; k < classes; k++) for (let t = 0; t < perClass; t++) for (let j = 0; j < dim; j++) mean[k * dim + j] += unit[(k * perClass + t) * dim + j] / perClass;
  return normalizeRows64(mean, dim);
}
