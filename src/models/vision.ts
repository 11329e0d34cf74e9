import type { AdapterSet, LayerAdapter, Saved, TargetLayer } from '../methods/types';
import { attention, attentionBackward } from '../engine/ops/attention';
import { activation, activationBackward, add, copy } from '../engine/ops/elementwise';
import { embedTokens, embedTokensBackward, patchEmbed, patchEmbedBackward } from '../engine/ops/embeddings';
import { layerNorm, layerNormBackward } from '../engine/ops/layernorm';
import { canSplitOutputs, matmul, matmulSplitDepth, matmulSplitOutputs } from '../engine/ops/matmul';
import { l2Normalize, l2NormalizeBackward } from '../engine/ops/normalize';
import { clsPool, clsPoolBackward } from '../engine/ops/pooling';
import { sumRows } from '../engine/ops/reduce';
import { randomArray } from '../engine/random';
import { STREAMS } from '../engine/streams';
import type { Tape } from '../engine/tape';
import { Tensor } from '../engine/tensor';
import type { GpuContext } from '../gpu/context';
import { checkFinite, checkWeights, ModelWeightsError, type WeightSource } from './checkWeights';
import { blockModules, embeddingNames, HEAD_MODULE, linearSites, matchesTarget } from './names';
import { patchesPerSide, tokenCount, type ModelSpec } from './spec';
import { LOGIT_SCALE, TEXT_FULL_CHECKPOINT_HINT, TEXT_PREFIX, TEXT_PROJECTION, VISUAL_PROJECTION } from './textSpec';

export { ModelWeightsError, type WeightSource } from './checkWeights';

/**
 * CLIP's zero-shot head: logits = logit_scale·⟨normalised image embedding, class embedding⟩.
 * The image embedding is visual_projection(post_layernorm(CLS)), as CLIPModel.get_image_features
 * computes it; `weight` (classes × projection_dim) is logit_scale times the unit class
 * embeddings, so the head is a linear layer without bias on the normalised embedding (the form
 * WiSE-FT and the RandLoRA paper's CLIP protocol fine-tune).
 */
export interface ZeroShotHeadWeights {
  weight: Float32Array;
}

/**
 * A ViT / DeiT / CLIP vision transformer on the GPU with a classification head, forward and
 * backward, in the order Hugging Face computes it. Weights keep their HF names. Adapters attach
 * to linear layers by module path; which tensors train is the trainer's choice (tape.track).
 */
export class VisionTransformer {
  readonly params = new Map<string, Tensor>();
  readonly tokens: number;
  readonly numLabels: number;
  /** Size of the head's input: the hidden size, or projection_dim under a zero-shot head. */
  readonly headIn: number;
  /** True when the head reads CLIP's normalised projected image embedding (a zero-shot head). */
  readonly zeroShot: boolean;
  /**
   * A full CLIP's tensors this network does not compute with (text tower, projections,
   * logit_scale), kept on the CPU as loaded so a merged export writes the whole CLIPModel.
   */
  readonly extras = new Map<string, WeightSource>();
  /**
   * The checkpoint's f32 values of the block linear weights (references to the loaded arrays, not
   * copies), so a weight stored in f16 under mixed precision can still be read exactly (exports,
   * spectra, intruders) or put back in f32.
   */
  private readonly checkpointF32 = new Map<string, Float32Array>();
  /** Averaging matrix for CLIP's mean over patch tokens, built per batch size. */
  private meanPool: { batch: number; matrix: Tensor } | undefined;

  constructor(
    readonly ctx: GpuContext,
    readonly spec: ModelSpec,
    weights: ReadonlyMap<string, WeightSource>,
    opts: { numLabels: number; seed?: number; source?: string; zeroShot?: ZeroShotHeadWeights },
  ) {
    const where = opts.source ?? 'the checkpoint';
    this.tokens = tokenCount(spec);
    this.numLabels = opts.numLabels;
    const linearWeights = new Set(linearSites(spec).map((site) => `${site.module}.weight`));
    for (const [name, w] of checkWeights(spec, weights, where)) {
      this.params.set(name, Tensor.from(ctx, w.shape, w.data, name));
      if (linearWeights.has(name)) this.checkpointF32.set(name, w.data);
    }
    for (const [name, w] of weights) {
      if (name.startsWith(TEXT_PREFIX) || name === TEXT_PROJECTION || name === LOGIT_SCALE || name === VISUAL_PROJECTION) this.extras.set(name, w);
    }
    this.zeroShot = !!opts.zeroShot;
    if (opts.zeroShot) {
      const vp = weights.get(VISUAL_PROJECTION);
      if (spec.family !== 'clip' || !vp || !spec.projectionDim) {
        this.release();
        throw new ModelWeightsError(`${where} has no ${VISUAL_PROJECTION}. ${TEXT_FULL_CHECKPOINT_HINT}`);
      }
      const P = spec.projectionDim;
      if (vp.data.length !== P * spec.hidden || opts.zeroShot.weight.length !== opts.numLabels * P) {
        this.release();
        throw new ModelWeightsError(`${where}: ${VISUAL_PROJECTION} has shape [${vp.shape.join(',')}], expected [${P},${spec.hidden}] (projection_dim × hidden_size), or the zero-shot head does not have ${opts.numLabels} × ${P} values.`);
      }
      this.params.set(VISUAL_PROJECTION, Tensor.from(ctx, [P, spec.hidden], vp.data, VISUAL_PROJECTION));
      this.extras.delete(VISUAL_PROJECTION);
      this.headIn = P;
      this.params.set(`${HEAD_MODULE}.weight`, Tensor.from(ctx, [opts.numLabels, P], opts.zeroShot.weight, 'classifier.weight'));
      this.params.set(`${HEAD_MODULE}.bias`, Tensor.zeros(ctx, [opts.numLabels], 'classifier.bias'));
      return;
    }
    this.headIn = spec.hidden;
    // Keep the checkpoint's head when its classes match; otherwise a fresh one, seeded like nn.Linear's init.
    const D = spec.hidden;
    const hw = weights.get(`${HEAD_MODULE}.weight`);
    const hb = weights.get(`${HEAD_MODULE}.bias`);
    if (hw && hb && hw.data.length === opts.numLabels * D && hb.data.length === opts.numLabels) {
      checkFinite(`${HEAD_MODULE}.weight`, hw, where);
      checkFinite(`${HEAD_MODULE}.bias`, hb, where);
      this.params.set(`${HEAD_MODULE}.weight`, Tensor.from(ctx, [opts.numLabels, D], hw.data, 'classifier.weight'));
      this.params.set(`${HEAD_MODULE}.bias`, Tensor.from(ctx, [opts.numLabels], hb.data, 'classifier.bias'));
    } else {
      const bound = 1 / Math.sqrt(D);
      const init = randomArray(opts.numLabels * D, opts.seed ?? 0, STREAMS.headInit, { kind: 'uniform', lo: -bound, hi: bound });
      this.params.set(`${HEAD_MODULE}.weight`, Tensor.from(ctx, [opts.numLabels, D], Float32Array.from(init), 'classifier.weight'));
      this.params.set(`${HEAD_MODULE}.bias`, Tensor.zeros(ctx, [opts.numLabels], 'classifier.bias'));
    }
  }

  param(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`model has no tensor "${name}"`);
    return t;
  }

  /**
   * Stores these block linear weights in f16 (packed pairs; mixed precision): the forward and
   * input-gradient GEMMs read them as f16 and compute in f32. Only for weights nothing trains or
   * writes: the f32 buffers are freed for good, and the checkpoint's values stay on the CPU.
   */
  storeInF16(names: readonly string[]): void {
    for (const name of names) {
      const old = this.param(name);
      if (old.dtype === 'f16') continue;
      const data = this.checkpointF32.get(name);
      if (!data) throw new Error(`storeInF16: "${name}" is not a block linear weight; only those can be stored in f16`);
      this.params.set(name, Tensor.fromF16(this.ctx, old.shape, data, name));
      old.discard();
    }
  }

  /** Puts every weight stored in f16 back in f32, from the checkpoint's values. */
  restoreF32(): void {
    for (const [name, t] of this.params) {
      if (t.dtype === 'f32') continue;
      this.params.set(name, Tensor.from(this.ctx, t.shape, this.checkpointF32.get(name)!, name));
      t.discard();
    }
  }

  /** Names of the tensors stored in f16. */
  f16Weights(): string[] {
    return [...this.params].filter(([, t]) => t.dtype === 'f16').map(([n]) => n);
  }

  /**
   * Runs `fn` on the weight in f32: the tensor itself, or, for a weight stored in f16, a temporary
   * f32 copy of the checkpoint's values (released after). For readers outside the forward pass
   * (merge, spectra, exports), which want W0 exactly as loaded.
   */
  async withF32Weight<T>(name: string, fn: (W: Tensor) => Promise<T> | T): Promise<T> {
    const W = this.param(name);
    if (W.dtype === 'f32') return fn(W);
    const f32 = Tensor.from(this.ctx, W.shape, this.checkpointF32.get(name)!, name);
    try {
      return await fn(f32);
    } finally {
      f32.release();
    }
  }

  /** A weight's f32 values: read from the GPU, or the checkpoint's for one stored in f16 (do not modify them). */
  async readF32(name: string): Promise<Float32Array> {
    const W = this.param(name);
    return W.dtype === 'f32' ? W.read() : this.checkpointF32.get(name)!;
  }

  /** Linear layers matching PEFT-style target names, as adapter targets. */
  targetLayers(targets: readonly string[]): TargetLayer[] {
    const sites = linearSites(this.spec).filter((s) => matchesTarget(s.module, targets));
    if (targets.length && !sites.length) {
      const examples = linearSites(this.spec).slice(0, 6).map((s) => s.module.split('.').slice(-2).join('.'));
      throw new Error(`No linear layer matches the targets ${JSON.stringify(targets)}. This model's layers end in e.g. ${examples.join(', ')}.`);
    }
    return sites.map((s) => ({
      module: s.module,
      out: s.out,
      in: s.in,
      base: { weight: this.param(`${s.module}.weight`), bias: this.params.get(`${s.module}.bias`) },
    }));
  }

  /** Backbone tensors (everything but the head). */
  backboneParams(): Tensor[] {
    return [...this.params].filter(([n]) => !n.startsWith(`${HEAD_MODULE}.`)).map(([, t]) => t);
  }

  /** The head's trainable tensors: a zero-shot head has no bias (it stays 0, as the trainer and the exports assume). */
  headParams(): Tensor[] {
    const weight = this.param(`${HEAD_MODULE}.weight`);
    return this.zeroShot ? [weight] : [weight, this.param(`${HEAD_MODULE}.bias`)];
  }

  parameterCount(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  /**
   * Logits (B, numLabels) for preprocessed images (B, C, S, S). Every intermediate is saved on
   * the tape and freed by `tape.clear()`; ops whose inputs need no gradient record nothing.
   */
  forward(tape: Tape, pixels: Tensor, adapters?: AdapterSet): Tensor {
    return this.head(tape, this.features(tape, pixels, adapters));
  }

  /** The head on features (B, headIn): logits (B, numLabels). */
  head(tape: Tape, features: Tensor): Tensor {
    return this.linear(tape, features, HEAD_MODULE, undefined);
  }

  /**
   * The head's input (B, headIn) for preprocessed images: the pooled backbone output, or CLIP's
   * normalised image embedding under a zero-shot head. Ensembles read it as each member's features.
   */
  features(tape: Tape, pixels: Tensor, adapters?: AdapterSet): Tensor {
    const s = this.spec;
    const e = embeddingNames(s);
    const B = pixels.shape[0];
    const T = this.tokens;
    const D = s.hidden;
    const Np = patchesPerSide(s) ** 2;

    // Patch embedding: a conv with kernel = stride = patch, as one GEMM over im2col patches.
    const pw = this.param(e.patchWeight);
    const pb = e.patchBias ? this.param(e.patchBias) : undefined;
    const wantPatchGrad = tape.needsGrad(pw) || tape.needsGrad(pb);
    const pe = patchEmbed(pixels, pw, pb, { save: wantPatchGrad });
    const patches = tape.save(pe.out);
    if (pe.saved) {
      const saved = pe.saved;
      tape.save(saved.patches);
      tape.record([pw, pb], [patches], () => {
        const dY = tape.grad(patches);
        if (!dY) return;
        const g = patchEmbedBackward(dY, saved, { weightGrad: tape.needsGrad(pw), biasGrad: !!pb && tape.needsGrad(pb), release: false });
        if (g.dweight) tape.addGrad(pw, g.dweight);
        if (g.dbias && pb) tape.addGrad(pb, g.dbias);
      });
    }

    // Class (and distillation) tokens in front, then position embeddings.
    const cls = this.param(e.cls);
    const dist = e.distillation ? this.param(e.distillation) : undefined;
    const pos = this.param(e.position);
    let prefix = cls;
    if (dist) {
      prefix = tape.save(Tensor.empty(this.ctx, [2, D], 'prefix'));
      this.ctx.copy(cls.buffer, 0, prefix.buffer, 0, D * 4);
      this.ctx.copy(dist.buffer, 0, prefix.buffer, D * 4, D * 4);
    }
    const embedded = tape.save(embedTokens(patches, prefix, pos));
    const nPrefix = dist ? 2 : 1;
    tape.record([patches, cls, dist, pos], [embedded], () => {
      const dY = tape.grad(embedded);
      if (!dY) return;
      const wantPrefix = tape.needsGrad(cls) || tape.needsGrad(dist);
      const g = embedTokensBackward(dY, {
        prefixTokens: nPrefix,
        patchGrad: tape.needsGrad(patches),
        prefixGrad: wantPrefix,
        posGrad: tape.needsGrad(pos),
      });
      if (g.dPatch) tape.addGrad(patches, g.dPatch);
      if (g.dPos) tape.addGrad(pos, g.dPos.reshape(pos.shape));
      if (g.dPrefix) {
        if (tape.needsGrad(cls)) tape.addGrad(cls, copyRows(g.dPrefix, 0, D, cls.shape));
        if (dist && tape.needsGrad(dist)) tape.addGrad(dist, copyRows(g.dPrefix, D, D, dist.shape));
        g.dPrefix.release();
      }
    });

    const tokens2d = embedded.reshape([B * T, D]);
    // A view of embedded's buffer, which the tape already frees: the view itself is not saved.
    tape.record([embedded], [tokens2d], () => passThrough(tape, tokens2d, embedded));
    let h = tokens2d;
    if (e.preLayernorm) h = this.layerNorm(tape, h, e.preLayernorm);

    for (let i = 0; i < s.layers; i++) h = this.block(tape, h, i, B, adapters);

    // Head input: CLS after the final layernorm (ViT/DeiT), or the mean of the patch tokens of the
    // last hidden state (HF's CLIPForImageClassification, no post-layernorm).
    let features: Tensor;
    if (this.zeroShot) features = this.imageEmbedding(tape, h, B);
    else if (s.pooling === 'cls') {
      const normed = this.layerNorm(tape, h, e.finalLayernorm);
      const n3 = normed.reshape([B, T, D]);
      features = tape.save(clsPool(n3));
      tape.record([normed], [features], () => {
        const dY = tape.grad(features);
        if (dY) tape.addGrad(normed, clsPoolBackward(dY, T).reshape([B * T, D]));
      });
    } else {
      const avg = this.meanPoolMatrix(B, T, Np);
      features = tape.save(matmul(avg, h, { op: 'mean_pool' }));
      const hh = h;
      tape.record([hh], [features], () => {
        const dY = tape.grad(features);
        if (dY) tape.addGrad(hh, matmul(avg, dY, { transA: true, op: 'mean_pool_backward' }));
      });
    }
    return features;
  }

  /**
   * CLIP's normalised image embedding: CLS after post_layernorm, visual_projection (no bias),
   * then x/‖x‖ — the zero-shot head's input, with the backward for training through it.
   */
  private imageEmbedding(tape: Tape, h: Tensor, B: number): Tensor {
    const T = this.tokens;
    const D = this.spec.hidden;
    const normed = this.layerNorm(tape, h, embeddingNames(this.spec).finalLayernorm);
    const cls = tape.save(clsPool(normed.reshape([B, T, D])));
    tape.record([normed], [cls], () => {
      const dY = tape.grad(cls);
      if (dY) tape.addGrad(normed, clsPoolBackward(dY, T).reshape([B * T, D]));
    });
    const projected = this.linear(tape, cls, VISUAL_PROJECTION.slice(0, -'.weight'.length), undefined);
    const n = l2Normalize(projected);
    const y = tape.save(n.y);
    tape.save(n.rnorm);
    tape.record([projected], [y], () => {
      const dY = tape.grad(y);
      if (dY) tape.addGrad(projected, l2NormalizeBackward(dY, n));
    });
    return y;
  }

  private meanPoolMatrix(B: number, T: number, Np: number): Tensor {
    if (this.meanPool?.batch === B) return this.meanPool.matrix;
    this.meanPool?.matrix.release();
    const m = new Float32Array(B * B * T);
    for (let b = 0; b < B; b++) for (let t = T - Np; t < T; t++) m[b * B * T + b * T + t] = 1 / Np;
    const matrix = Tensor.from(this.ctx, [B, B * T], m, 'mean_pool');
    this.meanPool = { batch: B, matrix };
    return matrix;
  }

  private block(tape: Tape, h: Tensor, i: number, B: number, adapters: AdapterSet | undefined): Tensor {
    const s = this.spec;
    const m = blockModules(s, i);
    const T = this.tokens;
    const D = s.hidden;
    const x1 = this.layerNorm(tape, h, m.ln1);
    const [q, k, v] = this.qkv(tape, x1, [m.query, m.key, m.value], adapters);
    const training = tape.needsGrad(q) || tape.needsGrad(k) || tape.needsGrad(v);
    const att = attention(q.reshape([B, T, D]), k.reshape([B, T, D]), v.reshape([B, T, D]), s.heads, { save: training });
    const ctxOut = tape.save(att.out.reshape([B * T, D]));
    if (att.saved) {
      const saved = att.saved;
      tape.record([q, k, v], [ctxOut], () => {
        const dY = tape.grad(ctxOut);
        if (!dY) return;
        const g = attentionBackward(dY.reshape([B, T, D]), saved);
        tape.addGrad(q, g.dq.reshape([B * T, D]));
        tape.addGrad(k, g.dk.reshape([B * T, D]));
        tape.addGrad(v, g.dv.reshape([B * T, D]));
      });
    }
    // The residual adds ride in the GEMM epilogues: h2 = h + attnOut(ctx), out = h2 + fc2(act).
    const h2 = this.linear(tape, ctxOut, m.attnOut, adapters, { residual: h });
    const x2 = this.layerNorm(tape, h2, m.ln2);
    const mlp = this.mlpIn(tape, x2, m.fc1, adapters);
    return this.linear(tape, mlp.act, m.fc2, adapters, { residual: h2, activationOf: mlp.pre });
  }

  /**
   * fc1 and the activation. Without an adapter on fc1 they are one launch, which also writes the
   * pre-activation when a backward will need it; an adapter adds its x·ΔWᵀ into the
   * pre-activation, so then the activation stays a launch of its own after it.
   */
  private mlpIn(tape: Tape, x: Tensor, module: string, adapters: AdapterSet | undefined): { act: Tensor; pre: Tensor | undefined } {
    const act = this.spec.act;
    const W = this.param(`${module}.weight`);
    const b = this.params.get(`${module}.bias`);
    const adapter = adapters?.layers.get(module);
    // On the merged route the adapter lives inside W + ΔW, so the activation fuses as without one.
    const merged = this.merged(tape, x, W, adapter);
    let pre: Tensor | undefined;
    let out: Tensor;
    if (adapter && !merged) {
      pre = this.linear(tape, x, module, adapters, { merged: null });
      out = tape.save(activation(pre, act));
    } else {
      const Wf = merged?.weight ?? W;
      const trainables = adapter?.trainables.map((t) => t.tensor) ?? [];
      const training = tape.needsGrad(x) || tape.needsGrad(W) || tape.needsGrad(b) || trainables.some((t) => tape.needsGrad(t));
      const f1 = training ? tape.save(Tensor.empty(this.ctx, [x.rows, W.rows], module)) : undefined;
      out = tape.save(matmul(x, Wf, { transB: true, bias: b, activation: act, preOut: f1, op: opName(module) }));
      if (!f1) return { act: out, pre: undefined };
      pre = f1;
      const part = { adapter, saved: merged?.saved, trainables };
      tape.record([x, W, b, ...trainables], [f1], () => {
        const dY = tape.grad(f1);
        if (!dY) return;
        const dx = tape.needsGrad(x) ? matmul(dY, Wf, { op: 'linear_dx' }) : undefined;
        this.linearBackward(tape, x, W, b, dY, part, undefined);
        if (dx) tape.addGrad(x, dx);
      });
    }
    const f1 = pre;
    // Runs only where fc2's backward could not fold act' into its input gradient (an adapter on fc2).
    tape.record([f1], [out], () => {
      const dY = tape.grad(out);
      if (dY) tape.addGrad(f1, activationBackward(f1, dY, act));
    });
    return { act: out, pre };
  }

  /**
   * Query, key and value of one input. Where the device binds enough buffers, one GEMM writes the
   * three outputs from the three weight tensors (read where they are, so full fine-tuning and
   * compose, which write the weights, never leave a copy stale), and the backward's input
   * gradient dQ·Wq + dK·Wk + dV·Wv is one GEMM too. Adapters still see their own output and dY.
   */
  private qkv(tape: Tape, x: Tensor, modules: readonly [string, string, string], adapters: AdapterSet | undefined): [Tensor, Tensor, Tensor] {
    const W = modules.map((m) => this.param(`${m}.weight`)) as [Tensor, Tensor, Tensor];
    const bias = modules.map((m) => this.params.get(`${m}.bias`));
    // Adapters on the merged route hand over W + ΔW, which the GEMMs below read in W's place.
    const merged = modules.map((m, j) => this.merged(tape, x, W[j], adapters?.layers.get(m)));
    const Wf = W.map((w, j) => merged[j]?.weight ?? w) as [Tensor, Tensor, Tensor];
    const withBias = bias.every((t) => !!t);
    const fusable =
      (withBias || bias.every((t) => !t)) &&
      Wf.every((w) => w.rows === Wf[0].rows && w.cols === Wf[0].cols && w.dtype === Wf[0].dtype) &&
      canSplitOutputs(this.ctx, withBias);
    if (!fusable) return modules.map((m, j) => this.linear(tape, x, m, adapters, { merged: merged[j] })) as [Tensor, Tensor, Tensor];
    const y = matmulSplitOutputs(x, Wf, { transB: true, bias: withBias ? (bias as [Tensor, Tensor, Tensor]) : undefined, op: 'attention.qkv' });
    for (const t of y) tape.save(t);
    const parts = modules.map((m, j) => {
      const adapter = adapters?.layers.get(m);
      const mj = merged[j];
      const saved = mj ? mj.saved : adapter?.forward(x, y[j]);
      if (saved && !mj) for (const t of saved.owned) tape.save(t);
      return { adapter, saved, merged: !!mj, trainables: adapter?.trainables.map((t) => t.tensor) ?? [] };
    });
    tape.record([x, ...W, ...bias, ...parts.flatMap((p) => p.trainables)], y, () => {
      const dY = y.map((t) => tape.grad(t));
      let dx: Tensor | undefined;
      if (tape.needsGrad(x)) {
        if (dY[0] && dY[1] && dY[2]) dx = matmulSplitDepth([dY[0], dY[1], dY[2]], Wf, { op: 'linear_dx_qkv' });
        else {
          dY.forEach((g, j) => {
            if (g) dx = matmul(g, Wf[j], dx ? { beta: 1, out: dx, op: 'linear_dx' } : { op: 'linear_dx' });
          });
        }
      }
      dY.forEach((g, j) => {
        if (g) this.linearBackward(tape, x, W[j], bias[j], g, parts[j], parts[j].merged ? undefined : dx);
      });
      if (dx) tape.addGrad(x, dx);
    });
    return y;
  }

  private residual(tape: Tape, a: Tensor, b: Tensor): Tensor {
    const out = tape.save(add(a, b));
    tape.record([a, b], [out], () => {
      const dY = tape.grad(out);
      // dY is both summands' gradient: passed on without copies (see Tape.shareGrad).
      if (dY) for (const t of [a, b]) tape.shareGrad(t, dY);
    });
    return out;
  }

  private layerNorm(tape: Tape, x: Tensor, module: string): Tensor {
    const w = this.param(`${module}.weight`);
    const b = this.param(`${module}.bias`);
    const r = layerNorm(x, w, b, this.spec.eps);
    const y = tape.save(r.y);
    tape.save(r.mean);
    tape.save(r.rstd);
    tape.record([x, w, b], [y], () => {
      const dY = tape.grad(y);
      if (!dY) return;
      // Into x's gradient so far when it has one (a residual stream's), with no accumulate launch.
      const into = tape.gradTarget(x);
      const g = layerNormBackward(dY, x, w, r, {
        inputGrad: tape.needsGrad(x),
        weightGrad: tape.needsGrad(w),
        biasGrad: tape.needsGrad(b),
        ...(into ? { dx: into, accumulateInput: true } : {}),
      });
      if (g.dx && !into) tape.addGrad(x, g.dx);
      if (g.dweight) tape.addGrad(w, g.dweight);
      if (g.dbias) tape.addGrad(b, g.dbias);
    });
    return y;
  }

  /**
   * y = x·Wᵀ + b (+ the adapter's x·ΔWᵀ), with the backward each trainable part needs.
   * `residual`: y = residual + x·Wᵀ + b in the GEMM's epilogue (a block's residual add); the sum's
   * gradient flows unchanged to the residual input. `activationOf`: x = act(pre) and this layer
   * is x's only consumer, so the input gradient's GEMM applies act'(pre) in its epilogue and hands
   * dPre straight to pre (unless an adapter here must add its dx before the factor).
   */
  private linear(tape: Tape, x: Tensor, module: string, adapters: AdapterSet | undefined, opts: { residual?: Tensor; activationOf?: Tensor; merged?: Merged } = {}): Tensor {
    // W may be stored in f16 (mixed precision): matmul reads it as such; only a frozen W is.
    const W = this.param(`${module}.weight`);
    const b = this.params.get(`${module}.bias`);
    const adapter = adapters?.layers.get(module);
    // An adapter that rescales y (DoRA) needs y to hold only this layer's output: add the residual after it.
    if (opts.residual && adapter?.rescalesOutput) return this.residual(tape, opts.residual, this.linear(tape, x, module, adapters, { activationOf: opts.activationOf }));
    const { residual, activationOf: pre } = opts;
    // The merged route: the layer's own GEMMs run on W + ΔW (`Wf`), and the adapter adds nothing to y or dx.
    const merged = opts.merged !== undefined ? opts.merged : this.merged(tape, x, W, adapter);
    const Wf = merged?.weight ?? W;
    const y = tape.save(matmul(x, Wf, { transB: true, bias: b, residual, op: opName(module) }));
    const saved = merged?.saved ?? adapter?.forward(x, y);
    // What the adapter's forward made for its backward lives until the tape is cleared.
    if (saved && !merged) for (const t of saved.owned) tape.save(t);
    const trainables = adapter?.trainables.map((t) => t.tensor) ?? [];
    tape.record([x, W, b, residual, ...trainables], [y], () => {
      // With a residual, y's gradient is also the residual input's: take it from the tape and hand it on at the end.
      const dY = residual ? tape.takeGrad(y) : tape.grad(y);
      if (!dY) return;
      const part = { adapter, saved, trainables };
      if (pre && (!adapter || merged) && tape.needsGrad(x)) {
        // dPre = (dY·W) ⊙ act'(pre) in one launch; x's own gradient is never formed.
        tape.addGrad(pre, matmul(dY, Wf, { activationGrad: { activation: this.spec.act, pre }, op: 'linear_dx_act' }));
        this.linearBackward(tape, x, W, b, dY, part, undefined);
      } else {
        // Into x's gradient so far when it has one: beta = 1, no accumulate launch.
        const into = tape.gradTarget(x);
        const dx = tape.needsGrad(x) ? matmul(dY, Wf, { op: 'linear_dx', ...(into ? { out: into, beta: 1 } : {}) }) : undefined;
        this.linearBackward(tape, x, W, b, dY, part, merged ? undefined : dx);
        if (dx && !into) tape.addGrad(x, dx);
      }
      if (residual) tape.addGrad(residual, dY);
    });
    return y;
  }

  /**
   * The adapter's merged route for this input, where it offers one (see LayerAdapter.forwardMerged):
   * W + ΔW and what its backward needs, owned by the tape from here on. Null where there is none.
   */
  private merged(tape: Tape, x: Tensor, W: Tensor, adapter: LayerAdapter | undefined): Merged {
    const m = adapter?.forwardMerged?.(x, W);
    if (!m) return null;
    for (const t of m.saved.owned) tape.save(t);
    return m;
  }

  /**
   * The backward of y = x·Wᵀ + b (+ adapter) apart from dY·W: the adapter's gradients (it adds its
   * dY·ΔW into `dx` when given), and W's and b's where they train. The caller makes dx and hands it on.
   */
  private linearBackward(tape: Tape, x: Tensor, W: Tensor, b: Tensor | undefined, dY: Tensor, part: AdaptedPart, dx: Tensor | undefined): void {
    if (part.adapter && part.saved) {
      const grads = part.adapter.backward(part.saved, dY, { dx });
      part.trainables.forEach((t, i) => tape.addGrad(t, grads[i]));
    }
    if (tape.needsGrad(W)) tape.addGrad(W, matmul(dY, x, { transA: true, op: 'linear_dW' }));
    if (b && tape.needsGrad(b)) tape.addGrad(b, sumRows(dY, { op: 'linear_db' }));
  }

  release(): void {
    for (const t of this.params.values()) t.release();
    this.meanPool?.matrix.release();
  }
}

/** An adapter's merged route for one forward (W + ΔW and its saved state), or null for none. */
type Merged = { weight: Tensor; saved: Saved } | null;

/** An adapter on a linear layer, what its forward saved, and its trainable tensors. */
interface AdaptedPart {
  adapter?: LayerAdapter;
  saved?: Saved;
  trainables: readonly Tensor[];
}

/** The op name of a linear layer's launches: the module path's last two parts ("attention.query"). */
function opName(module: string): string {
  return module.split('.').slice(-2).join('.');
}

/** A view's gradient is the gradient of what it views. */
function passThrough(tape: Tape, view: Tensor, base: Tensor): void {
  const g = tape.grad(view);
  if (g) tape.addGrad(base, copy(g).reshape(base.shape));
}

function copyRows(src: Tensor, offset: number, count: number, shape: readonly number[]): Tensor {
  const out = Tensor.empty(src.ctx, shape, 'prefix-grad');
  src.ctx.copy(src.buffer, offset * 4, out.buffer, 0, count * 4);
  return out;
}
