import { attention } from '../engine/ops/attention';
import { broadcastAdd, copyRange, type ActivationName } from '../engine/ops/elementwise';
import { layerNorm } from '../engine/ops/layernorm';
import { canSplitOutputs, matmul, matmulSplitOutputs } from '../engine/ops/matmul';
import { Tensor } from '../engine/tensor';
import type { GpuContext } from '../gpu/context';
import { eosPosition, expectedTextTensors, TEXT_FULL_CHECKPOINT_HINT, TEXT_NAMES, TEXT_PROJECTION, textBlockModules, type TextSpec } from './textSpec';
import { ModelWeightsError, type WeightSource } from './vision';

/**
 * CLIP's text tower on the GPU, forward only, as transformers' CLIPTextTransformer computes it:
 * token + position embeddings, pre-LN blocks with causal self-attention and the configured
 * activation, the final layernorm, the hidden state at the end-of-text position, then
 * text_projection. It runs once per run to build a zero-shot head, never in the training step.
 *
 * The token lookup is a CPU row copy from the checkpoint's table (a gather moves no arithmetic
 * and the table, 49408 × 512 for OpenAI's CLIP, stays off the GPU); everything after it runs on
 * the engine's ops.
 */
export class TextTransformer {
  private readonly params = new Map<string, Tensor>();
  private readonly tokenTable: Float32Array;

  constructor(
    readonly ctx: GpuContext,
    readonly spec: TextSpec,
    weights: ReadonlyMap<string, WeightSource>,
    opts: { source?: string; visionHidden: number },
  ) {
    const where = opts.source ?? 'the checkpoint';
    const missing: string[] = [];
    for (const [name, shape] of expectedTextTensors(spec, opts.visionHidden)) {
      const w = weights.get(name);
      if (!w) {
        missing.push(name);
        continue;
      }
      const size = shape.reduce((a, b) => a * b, 1);
      if (w.data.length !== size) {
        throw new ModelWeightsError(`${where}: tensor "${name}" has shape [${w.shape.join(',')}], but config.json's text_config implies [${shape.join(',')}]. Re-download the checkpoint.`);
      }
      if (name === TEXT_NAMES.token || name.startsWith('visual_projection') || name === 'logit_scale') continue;
      this.params.set(name, Tensor.from(ctx, shape, w.data, name));
    }
    if (missing.length) {
      this.release();
      throw new ModelWeightsError(`${where}: the text tower lacks ${missing.length} tensor(s), e.g. ${missing.slice(0, 3).map((m) => `"${m}"`).join(', ')}. ${TEXT_FULL_CHECKPOINT_HINT}`);
    }
    this.tokenTable = weights.get(TEXT_NAMES.token)!.data;
  }

  private param(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`text tower has no tensor "${name}"`);
    return t;
  }

  /**
   * Text embeddings (N, projection_dim), not normalised, for token id sequences (each with its
   * start and end tokens, at most max_position_embeddings long). Sequences run in chunks padded
   * to the chunk's longest with the end-of-text id: under the causal mask a token never sees
   * what follows it, so padding cannot change the pooled end-of-text feature.
   */
  async encode(sequences: readonly (readonly number[])[], chunk = 32): Promise<Float32Array> {
    const s = this.spec;
    const P = s.projectionDim;
    const out = new Float32Array(sequences.length * P);
    for (let start = 0; start < sequences.length; start += chunk) {
      const part = sequences.slice(start, start + chunk);
      const y = this.encodeChunk(part);
      out.set(await y.read(), start * P);
      y.release();
    }
    return out;
  }

  private encodeChunk(seqs: readonly (readonly number[])[]): Tensor {
    const s = this.spec;
    const D = s.hidden;
    const B = seqs.length;
    const T = Math.max(...seqs.map((q) => q.length));
    if (T > s.maxPositions) throw new Error(`A prompt has ${T} tokens; this CLIP's text tower takes at most ${s.maxPositions} (max_position_embeddings). Shorten the template or class name.`);
    if (seqs.some((q) => q.length === 0)) throw new Error('text tower: an empty token sequence (it needs at least the start and end tokens)');
    const pad = s.eosTokenId === 2 ? 0 : s.eosTokenId;
    const emb = new Float32Array(B * T * D);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const id = t < seqs[b].length ? seqs[b][t] : pad;
        if (!(id >= 0 && id < s.vocabSize)) throw new Error(`text tower: token id ${id} is outside the vocabulary of ${s.vocabSize}; the tokenizer and the checkpoint do not belong together.`);
        emb.set(this.tokenTable.subarray(id * D, (id + 1) * D), (b * T + t) * D);
      }
    }
    const tokens = Tensor.from(this.ctx, [B * T, D], emb, 'text-tokens');
    const pos = Tensor.empty(this.ctx, [T, D], 'text-positions');
    copyRange(this.param(TEXT_NAMES.position), 0, pos, 0, T * D);
    let h = broadcastAdd(tokens, pos);
    tokens.release();
    pos.release();
    for (let i = 0; i < s.layers; i++) {
      const next = this.block(h, i, B, T);
      h.release();
      h = next;
    }
    // The final layernorm is per row, so pooling first and normalising the B pooled rows is the same.
    const pooled = Tensor.empty(this.ctx, [B, D], 'text-pooled');
    seqs.forEach((q, b) => copyRange(h, (b * T + eosPosition(q, s.eosTokenId)) * D, pooled, b * D, D));
    h.release();
    const normed = this.layerNorm(pooled, TEXT_NAMES.finalLayernorm);
    pooled.release();
    const projected = matmul(normed, this.param(TEXT_PROJECTION), { transB: true, op: 'text_projection' });
    normed.release();
    return projected;
  }

  private layerNorm(x: Tensor, module: string): Tensor {
    const r = layerNorm(x, this.param(`${module}.weight`), this.param(`${module}.bias`), this.spec.eps);
    r.mean.release();
    r.rstd.release();
    return r.y;
  }

  /** y = x·Wᵀ + b, with an optional epilogue (a residual add or the activation) in the same launch. */
  private linear(x: Tensor, module: string, epilogue: { residual?: Tensor; activation?: ActivationName } = {}): Tensor {
    return matmul(x, this.param(`${module}.weight`), { transB: true, bias: this.param(`${module}.bias`), ...epilogue, op: `text.${module.split('.').slice(-2).join('.')}` });
  }

  /** Query, key and value: one GEMM writing three tensors where the device binds enough buffers. */
  private qkv(x: Tensor, modules: readonly [string, string, string]): Tensor[] {
    if (!canSplitOutputs(this.ctx, true)) return modules.map((m) => this.linear(x, m));
    const weight = modules.map((m) => this.param(`${m}.weight`)) as [Tensor, Tensor, Tensor];
    const bias = modules.map((m) => this.param(`${m}.bias`)) as [Tensor, Tensor, Tensor];
    return matmulSplitOutputs(x, weight, { transB: true, bias, op: 'text.attention.qkv' });
  }

  private block(h: Tensor, i: number, B: number, T: number): Tensor {
    const s = this.spec;
    const m = textBlockModules(i);
    const D = s.hidden;
    const x1 = this.layerNorm(h, m.ln1);
    const [q, k, v] = this.qkv(x1, [m.query, m.key, m.value]);
    x1.release();
    const att = attention(q.reshape([B, T, D]), k.reshape([B, T, D]), v.reshape([B, T, D]), s.heads, { save: false, causal: true });
    for (const t of [q, k, v]) t.release();
    // Residual adds and the activation ride in the GEMM epilogues.
    const h2 = this.linear(att.out.reshape([B * T, D]), m.attnOut, { residual: h });
    att.out.release();
    const x2 = this.layerNorm(h2, m.ln2);
    const a = this.linear(x2, m.fc1, { activation: s.act });
    x2.release();
    const out = this.linear(a, m.fc2, { residual: h2 });
    a.release();
    h2.release();
    return out;
  }

  release(): void {
    for (const t of this.params.values()) t.release();
    this.params.clear();
  }
}
