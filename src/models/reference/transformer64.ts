/**
 * The whole ViT / DeiT / CLIP-vision classifier in float64 on the reference autograd, computed
 * as Hugging Face transformers computes it (modeling_vit.py, modeling_deit.py, modeling_clip.py):
 *
 * - patch embedding: a conv with stride = kernel = patch, weight (D, C, p, p), bias for ViT/DeiT
 *   only; patches are taken row-major over the grid (flatten(2).transpose(1, 2)).
 * - tokens: [CLS, (DeiT: distillation), patches...] plus position embeddings; CLIP then applies
 *   pre_layrnorm.
 * - pre-norm blocks: h += attn_out(MHA(ln1(h))); h += fc2(act(fc1(ln2(h)))), with heads taken as
 *   contiguous chunks of D and scores q·kᵀ/√d.
 * - head: ViT/DeiT read the CLS row after the final layernorm (DeiTForImageClassification reads
 *   CLS too); CLIPForImageClassification reads the mean of the patch rows (1..T-1) of the
 *   encoder output, without post_layernorm.
 * - loss: mean cross-entropy, optionally label-smoothed as torch's CrossEntropyLoss.
 *
 * Each linear layer can carry an extra ΔW (O × I) added to its weight, so adapter methods are
 * checked through the whole network: the gradient with respect to ΔW is what any adapter's
 * parameters are differentiated through.
 */
import { blockModules, embeddingNames, expectedTensors, HEAD_MODULE, linearSites } from '../names';
import { patchesPerSide, tokenCount, type ModelSpec } from '../spec';
import { VISUAL_PROJECTION } from '../textSpec';
import {
  add,
  addRow,
  concatRows,
  crossEntropy,
  gelu,
  layerNorm,
  matmul,
  meanRows,
  normalizeRows,
  permute,
  quickGelu,
  reshape,
  scale,
  selectRows,
  softmax,
  Tape,
  type Value,
} from './autograd64';

export interface ReferenceInputs {
  spec: ModelSpec;
  /** Every tensor of expectedTensors(spec) plus 'classifier.weight' (labels, D) and 'classifier.bias', by HF name. Extra names are ignored. */
  weights: ReadonlyMap<string, ArrayLike<number>>;
  /** Normalised pixels, (B, C, H, W) row-major, H = W = spec.imageSize. */
  images: ArrayLike<number>;
  /** One class index per image; without labels only the forward runs. */
  labels?: ArrayLike<number>;
  /** ε of CrossEntropyLoss(label_smoothing=ε); 0 by default. */
  labelSmoothing?: number;
  /** ΔW (out × in, row-major) added to the weight of a linear layer, by module path; undefined for none. */
  delta?: (module: string) => ArrayLike<number> | undefined;
  /** Run the backward when labels are given (default true). */
  gradients?: boolean;
  /**
   * CLIP's zero-shot head: the features are visual_projection(final layernorm(CLS)) / ‖·‖ and
   * 'classifier.weight' is (labels, projection_dim) (logit_scale × class embeddings), its bias 0.
   */
  zeroShot?: boolean;
}

export interface ReferenceResult {
  batch: number;
  numLabels: number;
  /** (batch, numLabels) row-major. */
  logits: Float64Array;
  /** Mean loss over the batch; undefined without labels. */
  loss: number | undefined;
  /** d loss / d weight for every weight of `inputs.weights` the network uses (zeros for unused ones such as CLIP's post_layernorm). */
  grads: Map<string, Float64Array>;
  /** d loss / d ΔW for every module `delta` returned a ΔW for. */
  deltaGrads: Map<string, Float64Array>;
  /**
   * Intermediate values, (B·T, D) unless noted, for locating a mismatch: 'embeddings' (tokens +
   * positions), 'pre_layernorm' (CLIP), 'block.<i>' (output of block i), 'encoder_output'
   * (last block), 'final_layernorm' (ViT/DeiT), 'pooled' (B, D), 'logits' (B, labels).
   */
  activations: Map<string, Float64Array>;
}

export class ReferenceError extends Error {
  override name = 'ReferenceError';
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Extracts the non-overlapping p × p patches of (B, C, H, W) images as rows (B·N, C·p·p), each
 * row in the order of the conv weight's flattening (c, ky, kx), patches row-major over the grid.
 */
export function im2col(images: ArrayLike<number>, batch: number, channels: number, imageSize: number, patch: number): Float64Array {
  const g = Math.floor(imageSize / patch);
  const K = channels * patch * patch;
  const out = new Float64Array(batch * g * g * K);
  for (let b = 0; b < batch; b++) {
    for (let py = 0; py < g; py++) {
      for (let px = 0; px < g; px++) {
        const row = (b * g * g + py * g + px) * K;
        for (let c = 0; c < channels; c++) {
          for (let ky = 0; ky < patch; ky++) {
            for (let kx = 0; kx < patch; kx++) {
              const src = ((b * channels + c) * imageSize + py * patch + ky) * imageSize + px * patch + kx;
              out[row + (c * patch + ky) * patch + kx] = images[src];
            }
          }
        }
      }
    }
  }
  return out;
}

/** Runs the network in float64; see the module comment for what is computed. */
export function referenceForward(inputs: ReferenceInputs): ReferenceResult {
  const { spec } = inputs;
  const D = spec.hidden;
  const H = spec.heads;
  const dh = D / H;
  const C = spec.channels;
  const S = spec.imageSize;
  const P = spec.patchSize;
  const N = patchesPerSide(spec) ** 2;
  const T = tokenCount(spec);
  const perImage = C * S * S;
  if (inputs.images.length === 0 || inputs.images.length % perImage !== 0) {
    throw new ReferenceError(`images hold ${inputs.images.length} values, not a whole number of ${C}×${S}×${S} images.`);
  }
  const B = inputs.images.length / perImage;

  const tape = new Tape();
  const params = new Map<string, Value>();
  const shapes = expectedTensors(spec);
  const headW = inputs.weights.get(`${HEAD_MODULE}.weight`);
  if (!headW) throw new ReferenceError(`weights have no "${HEAD_MODULE}.weight": the reference needs a classification head.`);
  const headIn = inputs.zeroShot ? (spec.projectionDim ?? 0) : D;
  if (inputs.zeroShot) shapes.set(VISUAL_PROJECTION, [headIn, D]);
  if (!headIn || headW.length % headIn !== 0) throw new ReferenceError(`"${HEAD_MODULE}.weight" has ${headW.length} values, not a multiple of the head's input size ${headIn}.`);
  const L = headW.length / headIn;
  shapes.set(`${HEAD_MODULE}.weight`, [L, headIn]);
  shapes.set(`${HEAD_MODULE}.bias`, [L]);

  const w = (name: string): Value => {
    const have = params.get(name);
    if (have) return have;
    const shape = shapes.get(name);
    if (!shape) throw new ReferenceError(`the reference asked for "${name}", which ${spec.architecture} does not define.`);
    const src = inputs.weights.get(name);
    if (!src) throw new ReferenceError(`weights have no "${name}" (expected shape [${shape.join(', ')}]).`);
    if (src.length !== size(shape)) throw new ReferenceError(`"${name}" has ${src.length} values; shape [${shape.join(', ')}] needs ${size(shape)}.`);
    const v = tape.param(Float64Array.from(src), shape, name);
    params.set(name, v);
    return v;
  };

  const deltas = new Map<string, Value>();
  const linear = (x: Value, module: string, outF: number, inF: number, bias: boolean): Value => {
    let W = w(`${module}.weight`);
    const d = inputs.delta?.(module);
    if (d) {
      if (d.length !== outF * inF) throw new ReferenceError(`ΔW for ${module} has ${d.length} values; it needs ${outF}×${inF}.`);
      const dv = tape.param(Float64Array.from(d), [outF, inF], `Δ${module}`);
      deltas.set(module, dv);
      W = add(W, dv);
    }
    const y = matmul(x, W, { transB: true });
    return bias ? addRow(y, w(`${module}.bias`)) : y;
  };

  const act = spec.act === 'quick_gelu' ? quickGelu : gelu;
  const activations = new Map<string, Float64Array>();
  const e = embeddingNames(spec);

  // Patch embedding: conv with stride = kernel = patch, as a matmul over im2col rows.
  const patches = tape.constant(im2col(inputs.images, B, C, S, P), [B * N, C * P * P], 'patches');
  const pw = reshape(w(e.patchWeight), [D, C * P * P]);
  let emb = matmul(patches, pw, { transB: true });
  if (e.patchBias) emb = addRow(emb, w(e.patchBias));

  // [CLS, (distillation), patches] per image, then position embeddings.
  const special = [reshape(w(e.cls), [1, D])];
  if (e.distillation) special.push(reshape(w(e.distillation), [1, D]));
  const k = special.length;
  if (k + N !== T) throw new ReferenceError(`token count ${T} does not match ${k} special tokens + ${N} patches.`);
  const pool = concatRows([...special, emb]);
  const order: number[] = [];
  const posOrder: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      order.push(t < k ? t : k + b * N + (t - k));
      posOrder.push(t);
    }
  }
  const pos = reshape(w(e.position), [T, D]);
  let h = add(selectRows(pool, order), selectRows(pos, posOrder));
  activations.set('embeddings', h.data);
  if (e.preLayernorm) {
    h = layerNorm(h, w(`${e.preLayernorm}.weight`), w(`${e.preLayernorm}.bias`), spec.eps);
    activations.set('pre_layernorm', h.data);
  }

  const splitHeads = (x: Value) => reshape(permute(reshape(x, [B, T, H, dh]), [0, 2, 1, 3]), [B * H, T, dh]);
  const mergeHeads = (x: Value) => reshape(permute(reshape(x, [B, H, T, dh]), [0, 2, 1, 3]), [B * T, D]);

  for (let i = 0; i < spec.layers; i++) {
    const m = blockModules(spec, i);
    const x1 = layerNorm(h, w(`${m.ln1}.weight`), w(`${m.ln1}.bias`), spec.eps);
    const q = splitHeads(linear(x1, m.query, D, D, spec.qkvBias));
    const kk = splitHeads(linear(x1, m.key, D, D, spec.qkvBias));
    const v = splitHeads(linear(x1, m.value, D, D, spec.qkvBias));
    const probs = softmax(scale(matmul(q, kk, { transB: true }), 1 / Math.sqrt(dh)));
    const ctx = mergeHeads(matmul(probs, v));
    h = add(h, linear(ctx, m.attnOut, D, D, true));
    const x2 = layerNorm(h, w(`${m.ln2}.weight`), w(`${m.ln2}.bias`), spec.eps);
    const mid = act(linear(x2, m.fc1, spec.intermediate, D, true));
    h = add(h, linear(mid, m.fc2, D, spec.intermediate, true));
    activations.set(`block.${i}`, h.data);
  }
  activations.set('encoder_output', h.data);

  let pooled: Value;
  if (inputs.zeroShot) {
    const hn = layerNorm(h, w(`${e.finalLayernorm}.weight`), w(`${e.finalLayernorm}.bias`), spec.eps);
    const cls = selectRows(hn, Array.from({ length: B }, (_, b) => b * T));
    pooled = normalizeRows(matmul(cls, w(VISUAL_PROJECTION), { transB: true }));
  } else if (spec.pooling === 'mean_patches') {
    const rows: number[] = [];
    for (let b = 0; b < B; b++) for (let t = 1; t < T; t++) rows.push(b * T + t);
    pooled = meanRows(reshape(selectRows(h, rows), [B, T - 1, D]));
  } else {
    const hn = layerNorm(h, w(`${e.finalLayernorm}.weight`), w(`${e.finalLayernorm}.bias`), spec.eps);
    activations.set('final_layernorm', hn.data);
    pooled = selectRows(
      hn,
      Array.from({ length: B }, (_, b) => b * T),
    );
  }
  activations.set('pooled', pooled.data);
  const logits = linear(pooled, HEAD_MODULE, L, headIn, true);
  activations.set('logits', logits.data);

  let loss: number | undefined;
  const grads = new Map<string, Float64Array>();
  const deltaGrads = new Map<string, Float64Array>();
  if (inputs.labels) {
    const lossV = crossEntropy(logits, inputs.labels, inputs.labelSmoothing ?? 0);
    loss = lossV.data[0];
    if (inputs.gradients ?? true) {
      tape.backward(lossV);
      for (const name of shapes.keys()) {
        if (!inputs.weights.has(name)) continue;
        grads.set(name, params.get(name)?.grad ?? new Float64Array(size(shapes.get(name)!)));
      }
      for (const [module, dv] of deltas) deltaGrads.set(module, dv.grad ?? new Float64Array(dv.size));
    }
  }
  return { batch: B, numLabels: L, logits: logits.data, loss, grads, deltaGrads, activations };
}

/** Module paths of every linear layer, the head included: what `delta` may be asked for. */
export function referenceLinearModules(spec: ModelSpec): string[] {
  return [...linearSites(spec).map((s) => s.module), HEAD_MODULE];
}
