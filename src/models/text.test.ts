import { describe, expect, it } from 'vitest';
import { useGpu, testData } from '../testing/gpu';
import { Tape } from '../engine/tape';
import { Tensor } from '../engine/tensor';
import { maxRelError } from '../engine/reference/linalg';
import { makeModel } from './makeModel';
import { classEmbeddings64, imageEmbeddings64, textEmbeddings64, zeroShotLogits64 } from './reference/clip64';
import { referenceForward } from './reference/transformer64';
import { embeddingNames } from './names';
import { TextTransformer } from './text';
import { mul, normalizeRows, sum, Tape as Tape64 } from './reference/autograd64';
import { cotangent, dot64, numericGradient, relErr } from '../testing/gradcheck';
import { eosPosition, LOGIT_SCALE, parseTextConfig, TEXT_FULL_CHECKPOINT_HINT } from './textSpec';
import { averageClassEmbeddings, zeroShotHeadWeight } from './zeroShot';
import { ModelWeightsError, VisionTransformer } from './vision';

const gpu = useGpu();
// A dozen f32 contractions of length ≤ 64 and softmaxes: see vision.test.ts for the reasoning.
const TOL = 2e-4;

function made() {
  const m = makeModel({ arch: 'clip', preset: 'tiny', seed: 7, init: 'varied', labels: 3, text: true });
  const weights = new Map([...m.tensors].map(([k, v]) => [k, v.data]));
  return { m, weights, text: m.textSpec! };
}

// Different lengths in one chunk (padding), ids spread over the vocabulary, end-of-text last.
function sequences(eos: number, bos: number): number[][] {
  return [
    [bos, 5, 300, 17, eos],
    [bos, 9, eos],
    [bos, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 500, 400, eos],
    [bos, eos],
  ];
}

describe('CLIP text tower on the GPU against float64', () => {
  it('config: text_config parsed with CLIPTextConfig defaults for what a diff leaves out', () => {
    const t = parseTextConfig({ projection_dim: 512, text_config: { eos_token_id: 2 } })!;
    expect(t).toMatchObject({ vocabSize: 49408, hidden: 512, layers: 12, heads: 8, intermediate: 2048, maxPositions: 77, eps: 1e-5, act: 'quick_gelu', eosTokenId: 2 });
    expect(parseTextConfig({ vision_config: {} })).toBeUndefined();
    // A config with a text_config but no text weights (CLIPForImageClassification) has no text tower.
    expect(parseTextConfig({ text_config: {} }, 'config.json', ['vision_model.post_layernorm.weight'])).toBeUndefined();
  });

  it('pools where transformers does: argmax of ids for eos_token_id 2, else the first end-of-text', () => {
    expect(eosPosition([49406, 320, 49407, 49407], 2)).toBe(2);
    expect(eosPosition([10, 633, 5, 633], 633)).toBe(1);
    expect(eosPosition([10, 11], 633)).toBe(0);
  });

  for (const legacy of [false, true]) {
    it(`text embeddings of padded chunks equal each prompt run alone in float64 (${legacy ? 'legacy eos_token_id 2: argmax' : 'eos_token_id'})`, async () => {
      const { m, weights, text } = made();
      const spec = legacy ? { ...text, eosTokenId: 2 } : text;
      const bos = m.config.text_config ? (m.config.text_config as { bos_token_id: number }).bos_token_id : 0;
      const seqs = sequences(text.eosTokenId, bos);
      const tower = new TextTransformer(gpu().ctx, spec, m.tensors, { visionHidden: m.spec.hidden });
      // chunk 3: two chunks, the first padded to 20 tokens.
      const got = await tower.encode(seqs, 3);
      const want = textEmbeddings64(spec, weights, seqs);
      expect(maxRelError(got, want)).toBeLessThan(TOL);
      tower.release();
    });
  }

  it('zero-shot logits = logit_scale·cos(image, class) match float64 through the vision tower', async () => {
    const { ctx } = gpu();
    const { m, weights, text } = made();
    const bos = (m.config.text_config as { bos_token_id: number }).bos_token_id;
    const seqs = sequences(text.eosTokenId, bos).slice(0, 3).flatMap((s) => [s, [bos, 77, text.eosTokenId]]);
    const tower = new TextTransformer(ctx, text, m.tensors, { visionHidden: m.spec.hidden });
    const raw = await tower.encode(seqs);
    tower.release();
    // 3 classes × 2 templates.
    const classes = averageClassEmbeddings(raw, 3, 2, text.projectionDim);
    const want64 = classEmbeddings64(textEmbeddings64(text, weights, seqs), 3, 2, text.projectionDim);
    expect(maxRelError(classes.embeddings, want64)).toBeLessThan(TOL);
    const logitScale = m.tensors.get(LOGIT_SCALE)!.data[0];
    const model = new VisionTransformer(ctx, m.spec, m.tensors, { numLabels: 3, zeroShot: { weight: zeroShotHeadWeight(classes, logitScale) } });
    const B = 2;
    const S = m.spec.imageSize;
    const images = Float32Array.from(testData(B * 3 * S * S, 21));
    const logits = await model.forward(new Tape(), Tensor.from(ctx, [B, 3, S, S], images)).read();
    const ref = referenceForward({ spec: m.spec, weights, images });
    const img = imageEmbeddings64(ref.activations.get('encoder_output')!, B, model.tokens, m.spec.hidden, m.spec.eps, embeddingNames(m.spec).finalLayernorm, weights, text.projectionDim);
    const want = zeroShotLogits64(img, want64, text.projectionDim, logitScale);
    expect(maxRelError(logits, want)).toBeLessThan(TOL);
    // |logits| ≤ logit_scale (cosines): the scale really is exp(2.6592) ≈ 14.3.
    expect(Math.max(...Array.from(logits, Math.abs))).toBeLessThanOrEqual(Math.exp(logitScale) * (1 + 1e-5));
    model.release();
  });

  it('training through the zero-shot head: every weight gradient (visual_projection, post_layernorm, the head) matches float64', async () => {
    const { ctx } = gpu();
    const { m, weights } = made();
    const P = m.spec.projectionDim!;
    const head = Float32Array.from(testData(3 * P, 31, -3, 3));
    const model = new VisionTransformer(ctx, m.spec, m.tensors, { numLabels: 3, zeroShot: { weight: head } });
    const B = 2;
    const S = m.spec.imageSize;
    const images = Float32Array.from(testData(B * 3 * S * S, 41));
    const labels = [2, 0];
    const w = new Map<string, ArrayLike<number>>(weights);
    w.set('classifier.weight', head);
    w.set('classifier.bias', new Float32Array(3));
    const ref = referenceForward({ spec: m.spec, weights: w, images, labels, zeroShot: true });
    const tape = new Tape();
    for (const t of model.params.values()) tape.track(t);
    const logits = model.forward(tape, Tensor.from(ctx, [B, 3, S, S], images));
    expect(maxRelError(await logits.read(), ref.logits)).toBeLessThan(TOL);
    // d(mean CE)/d logits, in float64, seeds the GPU backward.
    const g = new Float64Array(ref.logits.length);
    for (let b = 0; b < B; b++) {
      const row = ref.logits.subarray(b * 3, b * 3 + 3);
      const mx = Math.max(...row);
      const z = row.reduce((a, v) => a + Math.exp(v - mx), 0);
      for (let c = 0; c < 3; c++) g[b * 3 + c] = (Math.exp(row[c] - mx) / z - (c === labels[b] ? 1 : 0)) / B;
    }
    tape.backward(logits, Tensor.from(ctx, logits.shape, Float32Array.from(g)));
    let globalMax = 0;
    for (const v of ref.grads.values()) for (const x of v) globalMax = Math.max(globalMax, Math.abs(x));
    const failures: string[] = [];
    for (const name of ['visual_projection.weight', 'vision_model.post_layernorm.weight', 'vision_model.post_layernorm.bias', 'classifier.weight', 'vision_model.encoder.layers.1.mlp.fc2.weight', 'vision_model.embeddings.patch_embedding.weight']) {
      const want = ref.grads.get(name)!;
      const got = await tape.takeGrad(model.param(name))!.read();
      let scale = 1e-2 * globalMax;
      let err = 0;
      for (let i = 0; i < want.length; i++) {
        scale = Math.max(scale, Math.abs(want[i]));
        err = Math.max(err, Math.abs(got[i] - want[i]));
      }
      if (!(err / scale < TOL * 5)) failures.push(`${name}: relative error ${err / scale}`);
    }
    expect(failures).toEqual([]);
    tape.clear(model.params.values());
    model.release();
  });

  it('float64 normalizeRows backward matches finite differences', () => {
    const x = testData(6, 3);
    const cot = cotangent(6, 4);
    const loss = (v: Float64Array) => {
      const t = new Tape64();
      return dot64(normalizeRows(t.constant(v, [2, 3])).data, cot);
    };
    const t = new Tape64();
    const xv = t.param(Float64Array.from(x), [2, 3]);
    const y = normalizeRows(xv);
    t.backward(sum(mul(y, t.constant(Float64Array.from(cot), [2, 3]))));
    expect(relErr(xv.grad!, numericGradient(loss, Float64Array.from(x)))).toBeLessThan(1e-7);
  });

  it('a vision-only CLIP refuses a zero-shot head, naming full checkpoints on the Hub', () => {
    const v = makeModel({ arch: 'clip', preset: 'tiny', labels: 3 });
    expect(() => new VisionTransformer(gpu().ctx, v.spec, v.tensors, { numLabels: 3, zeroShot: { weight: new Float32Array(3 * 32) } })).toThrow(ModelWeightsError);
    expect(() => new VisionTransformer(gpu().ctx, v.spec, v.tensors, { numLabels: 3, zeroShot: { weight: new Float32Array(3 * 32) } })).toThrow(/openai\/clip-vit-base-patch32/);
    expect(TEXT_FULL_CHECKPOINT_HINT).toMatch(/full CLIP checkpoint/);
  });
});
