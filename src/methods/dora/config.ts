import { defineMethod } from '../define';
import { LORA_DEFAULTS, lora, type LoraConfig } from '../lora/config';

/** DoRA's settings are LoRA's: it is PEFT's LoraConfig with use_dora=True. */
export type DoraConfig = LoraConfig;

/**
 * DoRA (PEFT `tuners/lora` with use_dora=True, arXiv 2402.09353): LoRA's direction update plus a
 * trained magnitude per output row, W' = m ⊙ (W0 + s·B·A) / ‖W0 + s·B·A‖ (norm per row).
 */
export const dora = defineMethod<DoraConfig>()({
  id: 'dora',
  label: 'DoRA',
  summary: 'Splits each weight into a magnitude per output and a direction, training the magnitudes and a LoRA update of the direction.',
  defaults: LORA_DEFAULTS,
  fields: lora.fields.map((f) => (f.key === 'r' ? { ...f, label: 'DoRA r (rank)', help: 'Rank of the direction update B·A; the magnitudes add one trained value per output.' } : f)),
  usesTargets: true,
  trainsBackbone: false,
  countParams: (c, layers) => layers.reduce((n, l) => n + c.r * (l.in + l.out) + l.out, 0),
  frozenFloats: () => 0,
  // Rescaling every row of W0 changes W0 itself: W' − W0 = (diag(g) − I)·W0 + diag(g)·s·B·A has
  // full rank in general, however small r is.
  maxRank: (_c, l) => Math.min(l.in, l.out),
  knobs: { rank: 'r', scale: 'alpha' },
  budget: { label: 'r', range: (layers) => [1, Math.max(1, ...layers.map((l) => Math.min(l.in, l.out)))], apply: (c, r) => ({ ...c, r }), value: (c) => c.r },
  runName: (c) => `r=${c.r}`,
  export: { kind: 'peft', peftType: 'LORA', match: { use_dora: true }, tooltip: 'adapter_config.json (use_dora) + adapter_model.safetensors with the magnitudes, for PeftModel.from_pretrained' },
  runtime: () => import('./runtime'),
});
