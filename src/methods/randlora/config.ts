import { defineMethod } from '../define';
import { RANDLORA_DEFAULTS, randloraFrozenFloats, randloraLayerShape, randloraParamCount } from './shapes';

export interface RandLoraConfig {
  r: number;
  alpha: number;
}

/**
 * RandLoRA (PEFT `tuners/randlora`): one pair of shared frozen random bases; per layer only the
 * diagonal scalings λ and γ train, yet the update ΔW = s·Bf·S has full rank.
 */
export const randlora = defineMethod<RandLoraConfig>()({
  id: 'randlora',
  label: 'RandLoRA',
  summary: 'Combines frozen random low-rank bases through trained diagonal scalings, so the update is full rank with few parameters.',
  defaults: { r: RANDLORA_DEFAULTS.r, alpha: RANDLORA_DEFAULTS.alpha },
  fields: [
    {
      key: 'r',
      label: 'RandLoRA r (basis rank)',
      help: 'Rank of each frozen random basis; a layer with min(in, out) = m uses ⌈m / r⌉ bases, so the update is full rank whatever r is. A smaller r means more bases and more trainable values.',
      kind: 'int',
      min: 1,
    },
    { key: 'alpha', label: 'alpha', help: 'Scales the update by alpha / r (PEFT’s default 640 with r = 32 is a factor of 20).', kind: 'float', min: 0, above: true },
  ],
  usesTargets: true,
  trainsBackbone: false,
  countParams: (c, layers) => layers.reduce((n, l) => n + randloraParamCount(l.out, l.in, c.r), 0),
  // The shared bases plus the dense Bf copies the GEMMs read (one per distinct layer shape).
  frozenFloats: (c, layers) => (layers.length ? randloraFrozenFloats(layers.map((l) => [l.out, l.in] as const), c.r) : 0),
  // W + ΔW (merged route) or ΔW (dense path) per adapted layer, kept from forward to backward.
  stepFloats: (_c, layers) => layers.reduce((n, l) => n + l.out * l.in, 0),
  // r·nb ≥ m basis directions span the whole of the smaller side.
  maxRank: (c, l) => Math.min(l.in, l.out, c.r * randloraLayerShape(l.out, l.in, c.r).nb),
  knobs: { rank: 'r', scale: 'alpha' },
  // Fewer values as r grows (nb = ⌈m / r⌉); r = m of the widest layer leaves one basis everywhere.
  budget: { label: 'r', range: (layers) => [1, Math.max(1, ...layers.map((l) => Math.min(l.in, l.out)))], apply: (c, r) => ({ ...c, r }), value: (c) => c.r },
  runName: (c) => `r=${c.r}`,
  comparisonLr: 5e-3,
  export: { kind: 'peft', peftType: 'RANDLORA', tooltip: 'adapter_config.json + adapter_model.safetensors (bases saved), for PeftModel.from_pretrained' },
  runtime: () => import('./runtime'),
  bench: () => import('./bench'),
});
