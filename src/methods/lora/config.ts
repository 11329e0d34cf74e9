import { defineMethod } from '../define';

export interface LoraConfig {
  r: number;
  alpha: number;
  /** Rank-stabilised scaling α/√r instead of α/r. */
  rslora: boolean;
}

/** PEFT's LoraConfig defaults. */
export const LORA_DEFAULTS: LoraConfig = { r: 8, alpha: 8, rslora: false };

/** LoRA (PEFT `tuners/lora`): ΔW = s·B·A with A (r, in), B (out, r); B starts at 0. */
export const lora = defineMethod<LoraConfig>()({
  id: 'lora',
  label: 'LoRA',
  summary: 'Trains two thin matrices B·A per layer, so each update has rank at most r.',
  defaults: LORA_DEFAULTS,
  fields: [
    { key: 'r', label: 'LoRA r (rank)', help: 'Rank of the update B·A: each layer can change along at most r directions; trainable values grow as r·(in + out).', kind: 'int', min: 1 },
    { key: 'alpha', label: 'alpha', help: 'Scales the update by alpha / r (alpha / √r with rsLoRA).', kind: 'float', min: 0, above: true },
    { key: 'rslora', label: 'rsLoRA', help: 'Rank-stabilised scaling alpha / √r, which keeps the update’s size steady as r grows.', kind: 'bool' },
  ],
  usesTargets: true,
  trainsBackbone: false,
  countParams: (c, layers) => layers.reduce((n, l) => n + c.r * (l.in + l.out), 0),
  frozenFloats: () => 0,
  maxRank: (c, l) => Math.min(c.r, l.in, l.out),
  knobs: { rank: 'r', scale: 'alpha' },
  // Beyond min(in, out) a larger r adds values but no rank.
  budget: { label: 'r', range: (layers) => [1, Math.max(1, ...layers.map((l) => Math.min(l.in, l.out)))], apply: (c, r) => ({ ...c, r }), value: (c) => c.r },
  runName: (c) => `r=${c.r}`,
  comparisonLr: 5e-3,
  export: { kind: 'peft', peftType: 'LORA', tooltip: 'adapter_config.json + adapter_model.safetensors, for PeftModel.from_pretrained' },
  runtime: () => import('./runtime'),
  bench: () => import('./bench'),
});
