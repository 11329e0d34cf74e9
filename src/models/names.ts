import { tokenCount, type ModelSpec } from './spec';

/**
 * Hugging Face tensor names of each part of a ViT/DeiT or CLIP vision tower, so loading,
 * checkpoint generation, validation and export all agree on one table.
 */
export interface BlockNames {
  ln1: string;
  ln2: string;
  query: string;
  key: string;
  value: string;
  attnOut: string;
  fc1: string;
  fc2: string;
}

/** Module paths (no .weight/.bias) of block i: these are what PEFT's target_modules match. */
export function blockModules(spec: ModelSpec, i: number): BlockNames {
  if (spec.family === 'clip') {
    const b = `${spec.prefix}encoder.layers.${i}.`;
    return {
      ln1: `${b}layer_norm1`,
      ln2: `${b}layer_norm2`,
      query: `${b}self_attn.q_proj`,
      key: `${b}self_attn.k_proj`,
      value: `${b}self_attn.v_proj`,
      attnOut: `${b}self_attn.out_proj`,
      fc1: `${b}mlp.fc1`,
      fc2: `${b}mlp.fc2`,
    };
  }
  const b = `${spec.prefix}encoder.layer.${i}.`;
  return {
    ln1: `${b}layernorm_before`,
    ln2: `${b}layernorm_after`,
    query: `${b}attention.attention.query`,
    key: `${b}attention.attention.key`,
    value: `${b}attention.attention.value`,
    attnOut: `${b}attention.output.dense`,
    fc1: `${b}intermediate.dense`,
    fc2: `${b}output.dense`,
  };
}

export interface EmbeddingNames {
  cls: string;
  distillation: string | undefined;
  position: string;
  patchWeight: string;
  patchBias: string | undefined;
  preLayernorm: string | undefined;
  finalLayernorm: string;
}

export function embeddingNames(spec: ModelSpec): EmbeddingNames {
  const p = spec.prefix;
  if (spec.family === 'clip') {
    return {
      cls: `${p}embeddings.class_embedding`,
      distillation: undefined,
      position: `${p}embeddings.position_embedding.weight`,
      patchWeight: `${p}embeddings.patch_embedding.weight`,
      patchBias: undefined,
      // HF's CLIP really spells it "pre_layrnorm".
      preLayernorm: `${p}pre_layrnorm`,
      finalLayernorm: `${p}post_layernorm`,
    };
  }
  return {
    cls: `${p}embeddings.cls_token`,
    distillation: spec.distillationToken ? `${p}embeddings.distillation_token` : undefined,
    position: `${p}embeddings.position_embeddings`,
    patchWeight: `${p}embeddings.patch_embeddings.projection.weight`,
    patchBias: `${p}embeddings.patch_embeddings.projection.bias`,
    preLayernorm: undefined,
    finalLayernorm: `${p}layernorm`,
  };
}

export const HEAD_MODULE = 'classifier';

/** Every tensor a checkpoint of this spec holds for the backbone (head excluded), with its shape. */
export function expectedTensors(spec: ModelSpec): Map<string, number[]> {
  const D = spec.hidden;
  const F = spec.intermediate;
  const T = tokenCount(spec);
  const e = embeddingNames(spec);
  const out = new Map<string, number[]>();
  if (spec.family === 'clip') {
    out.set(e.cls, [D]);
    out.set(e.position, [T, D]);
  } else {
    out.set(e.cls, [1, 1, D]);
    if (e.distillation) out.set(e.distillation, [1, 1, D]);
    out.set(e.position, [1, T, D]);
  }
  out.set(e.patchWeight, [D, spec.channels, spec.patchSize, spec.patchSize]);
  if (e.patchBias) out.set(e.patchBias, [D]);
  const ln = (name: string) => {
    out.set(`${name}.weight`, [D]);
    out.set(`${name}.bias`, [D]);
  };
  if (e.preLayernorm) ln(e.preLayernorm);
  for (let i = 0; i < spec.layers; i++) {
    const b = blockModules(spec, i);
    ln(b.ln1);
    ln(b.ln2);
    for (const m of [b.query, b.key, b.value, b.attnOut]) {
      out.set(`${m}.weight`, [D, D]);
      if (spec.qkvBias || m === b.attnOut) out.set(`${m}.bias`, [D]);
    }
    out.set(`${b.fc1}.weight`, [F, D]);
    out.set(`${b.fc1}.bias`, [F]);
    out.set(`${b.fc2}.weight`, [D, F]);
    out.set(`${b.fc2}.bias`, [D]);
  }
  ln(e.finalLayernorm);
  return out;
}

/** Every linear layer a person may target, with the suffixes PEFT's target_modules match. */
export interface LinearSite {
  /** Full module path, e.g. vit.encoder.layer.3.attention.attention.query. */
  module: string;
  out: number;
  in: number;
  block: number;
  role: keyof Omit<BlockNames, 'ln1' | 'ln2'>;
}

export function linearSites(spec: ModelSpec): LinearSite[] {
  const D = spec.hidden;
  const F = spec.intermediate;
  const sites: LinearSite[] = [];
  for (let i = 0; i < spec.layers; i++) {
    const b = blockModules(spec, i);
    sites.push({ module: b.query, out: D, in: D, block: i, role: 'query' });
    sites.push({ module: b.key, out: D, in: D, block: i, role: 'key' });
    sites.push({ module: b.value, out: D, in: D, block: i, role: 'value' });
    sites.push({ module: b.attnOut, out: D, in: D, block: i, role: 'attnOut' });
    sites.push({ module: b.fc1, out: F, in: D, block: i, role: 'fc1' });
    sites.push({ module: b.fc2, out: D, in: F, block: i, role: 'fc2' });
  }
  return sites;
}

/**
 * PEFT's rule for a list of target_modules: a module matches when its full name equals a target
 * or ends with "." + target (so "output.dense" matches attention.output.dense too, as in PEFT).
 */
export function matchesTarget(module: string, targets: readonly string[]): boolean {
  return targets.some((t) => module === t || module.endsWith(`.${t}`));
}

export const DEFAULT_TARGETS: Record<ModelSpec['family'], string[]> = {
  vit: ['query', 'value'],
  deit: ['query', 'value'],
  clip: ['q_proj', 'v_proj'],
};

export const ALL_TARGETS: Record<ModelSpec['family'], string[]> = {
  vit: ['query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'],
  deit: ['query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'],
  clip: ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'],
};
