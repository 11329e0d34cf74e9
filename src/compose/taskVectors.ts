/**
 * Task vectors from finished runs: τ_t = θ_t − θ₀ for every backbone tensor, read from each run's
 * merged checkpoint (W₀ + ΔW for adapters, θ_t for full fine-tuning) against the base model. The
 * head is left out: it belongs to its run's own task. Under CLIP's zero-shot head the image path
 * also runs through visual_projection, so the caller may name it (`imagePath`) to be composed too.
 * A block is a tensor that some τ changes; tensors no run changed are skipped (a LoRA-only
 * composition would otherwise carry hundreds of coefficients that can never matter).
 *
 * Runs that cannot be composed with this base are refused with `ComposeInputError`, naming the run
 * and the tensor: another architecture (config differs), a missing tensor or another shape, or
 * weights that cannot come from this base (an adapter run whose non-adapted tensors differ from
 * the base, or a run whose tensors are mostly unrelated to the base's).
 */
import type { Checkpoint } from '../io/checkpoint';
import { classificationName } from '../io/peft/layout';
import { methodById, type MethodId } from '../methods/registry';
import { expectedTensors, linearSites } from '../models/names';
import { parseConfig, type ModelSpec } from '../models/spec';

export class ComposeInputError extends Error {
  override name = 'ComposeInputError';
}

/** One run to take a task vector from. */
export interface TaskVectorSource {
  /** The run's name or folder, used in every message. */
  name: string;
  checkpoint: Checkpoint;
  /** The method that trained it, when known: an adapter run may change only its adapted linear weights. */
  method?: string;
}

export interface TaskVectorBlock {
  /** The tensor's name in the base model as loaded (VisionTransformer.params). */
  name: string;
  /** Its name in the exported classification model (HF's …ForImageClassification). */
  hfName: string;
  /** The layer it belongs to, for the heatmap's grouping (e.g. "vit.encoder.layer.0", "embeddings"). */
  layer: string;
  shape: number[];
  n: number;
  theta0: Float32Array;
  /** θ_t for each task, as stored (τ_t = θ_t − θ₀ is taken from these, in f32 for the GPU and f64 for exports). */
  thetas: Float32Array[];
}

export interface TaskVectors {
  spec: ModelSpec;
  blocks: TaskVectorBlock[];
  /** Backbone tensors no task vector changes, left out of the composition. */
  unchanged: string[];
  /** Per task: ‖τ_t‖₂ over all blocks. */
  norms: number[];
}

/** The spec fields that must agree for two checkpoints to share one parameter space. */
const SHAPE_FIELDS = ['family', 'hidden', 'layers', 'heads', 'intermediate', 'imageSize', 'patchSize', 'channels', 'act', 'qkvBias', 'patchBias', 'preLayernorm', 'distillationToken', 'pooling'] as const;

/** The layer a tensor belongs to: "<…>.layer.N" / "<…>.layers.N", "embeddings", or "final" (norms after the blocks). */
export function layerLabel(hfName: string): string {
  const m = /^(.*?\.layers?\.\d+)\./.exec(hfName);
  if (m) return m[1];
  if (hfName.includes('embeddings')) return 'embeddings';
  if (hfName.includes('pre_layrnorm')) return 'embeddings';
  return 'final';
}

function specOf(ckpt: Checkpoint, name: string): ModelSpec {
  try {
    return parseConfig(ckpt.config, `${ckpt.source}/config.json`, ckpt.tensors.keys());
  } catch (e) {
    throw new ComposeInputError(`${name}: its config.json cannot be read as a vision transformer (${(e as Error).message}). Leave the run out.`);
  }
}

/**
 * τ for every member against the base, with the checks above. Throws ComposeInputError for no
 * members, and for the first member and tensor that do not fit.
 */
export function buildTaskVectors(base: Checkpoint, members: readonly TaskVectorSource[], opts: { imagePath?: readonly string[] } = {}): TaskVectors {
  if (members.length === 0) throw new ComposeInputError('No runs to compose: give at least one finished run on this base model.');
  const spec = specOf(base, `the base model (${base.source})`);
  const expected = new Map(expectedTensors(spec));
  // Tensors outside the backbone that the composed model's image path also reads (CLIP's
  // visual_projection under a zero-shot head), under the same name in every CLIP export.
  const imagePath = new Set((opts.imagePath ?? []).filter((n) => base.tensors.has(n) && !expected.has(n)));
  for (const n of imagePath) expected.set(n, [...base.tensors.get(n)!.shape]);
  const linearWeights = new Set(linearSites(spec).map((s) => `${s.module}.weight`));
  const thetas: Array<Map<string, Float32Array>> = [];
  for (const m of members) {
    const ms = specOf(m.checkpoint, m.name);
    for (const f of SHAPE_FIELDS) {
      if (ms[f] !== spec[f]) {
        throw new ComposeInputError(
          `${m.name}: its model has ${f} = ${JSON.stringify(ms[f])} but the base model (${base.source}) has ${JSON.stringify(spec[f])}, so it was trained from another base model. ` +
            'Compose only runs trained from this base, or pass the base they were trained from as --model.',
        );
      }
    }
    // Merged exports carry the classification model's names; the base may be a bare ViTModel.
    const byHf = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [name, t] of m.checkpoint.tensors) byHf.set(classificationName(ms, name), t);
    const mine = new Map<string, Float32Array>();
    for (const [name, shape] of expected) {
      const hf = imagePath.has(name) ? name : classificationName(spec, name);
      const t = imagePath.has(name) ? m.checkpoint.tensors.get(name) : byHf.get(hf);
      // A run exported without it (a vision-only CLIP classifier) did not change it: τ = 0 there.
      if (!t && imagePath.has(name)) {
        mine.set(name, base.tensors.get(name)!.data);
        continue;
      }
      if (!t) throw new ComposeInputError(`${m.name}: its merged model has no tensor "${hf}", which the base model has. It was trained from another base model or its merged/model.safetensors is incomplete; leave it out or export it again.`);
      if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
        throw new ComposeInputError(`${m.name}: tensor "${hf}" has shape [${t.shape.join(',')}] but the base model's is [${shape.join(',')}], so it was trained from another base model. Leave it out.`);
      }
      mine.set(name, t.data);
    }
    checkSameBase(m, spec, base, mine, linearWeights);
    thetas.push(mine);
  }
  const blocks: TaskVectorBlock[] = [];
  // `imagePath` tensors last, after the backbone's (expected's order), so block indices of the backbone do not depend on the head.
  const unchanged: string[] = [];
  const sq = new Array<number>(members.length).fill(0);
  for (const [name, shape] of expected) {
    const theta0 = base.tensors.get(name)!.data;
    const ts = thetas.map((m) => m.get(name)!);
    let changed = false;
    ts.forEach((th, t) => {
      for (let e = 0; e < th.length; e++) {
        const d = th[e] - theta0[e];
        if (d !== 0) {
          changed = true;
          sq[t] += d * d;
        }
      }
    });
    const hfName = imagePath.has(name) ? name : classificationName(spec, name);
    if (!changed) {
      unchanged.push(hfName);
      continue;
    }
    blocks.push({ name, hfName, layer: layerLabel(hfName), shape: [...shape], n: theta0.length, theta0, thetas: ts });
  }
  if (blocks.length === 0) {
    throw new ComposeInputError(`${members.map((m) => m.name).join(', ')}: no backbone tensor differs from the base model, so there is no task vector to compose (a linear probe trains only its head). Compose runs that changed the backbone.`);
  }
  return { spec, blocks, unchanged, norms: sq.map(Math.sqrt) };
}

function norm(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/**
 * Weights that cannot come from fine-tuning this base: under an adapter method only the adapted
 * linear weights change, so any other tensor that differs means another base; for any method, a
 * run whose typical tensor moved by more than half its own size from θ₀ was not fine-tuned from it.
 */
function checkSameBase(m: TaskVectorSource, spec: ModelSpec, base: Checkpoint, mine: Map<string, Float32Array>, linearWeights: Set<string>): void {
  let method: ReturnType<typeof methodById> | undefined;
  try {
    method = m.method ? methodById(m.method as MethodId) : undefined;
  } catch {
    method = undefined;
  }
  const hint = 'Compose only runs trained from this base, or pass the base they were trained from as --model.';
  if (method && !method.trainsBackbone) {
    for (const [name, th] of mine) {
      if (linearWeights.has(name)) continue;
      const t0 = base.tensors.get(name)!.data;
      const e = th.findIndex((v, i) => v !== t0[i]);
      if (e >= 0) {
        throw new ComposeInputError(
          `${m.name}: tensor "${classificationName(spec, name)}" differs from the base model's (element ${e}: ${th[e]} vs ${t0[e]}), but ${method.label} changes only adapted linear weights, so the run was trained from another base model. ${hint}`,
        );
      }
    }
  }
  const ratios: Array<{ name: string; r: number }> = [];
  for (const [name, th] of mine) {
    const t0 = base.tensors.get(name)!.data;
    const n0 = norm(t0);
    if (n0 === 0) continue;
    let d = 0;
    for (let i = 0; i < th.length; i++) d += (th[i] - t0[i]) ** 2;
    ratios.push({ name, r: Math.sqrt(d) / n0 });
  }
  const sorted = ratios.map((x) => x.r).sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
  if (median > 0.5) {
    const worst = ratios.reduce((a, b) => (b.r > a.r ? b : a));
    throw new ComposeInputError(
      `${m.name}: its weights are far from the base model's (the typical tensor differs by ${(100 * median).toFixed(0)}% of its norm; "${classificationName(spec, worst.name)}" by ${(100 * worst.r).toFixed(0)}%), so it was not fine-tuned from this base. ${hint}`,
    );
  }
}
