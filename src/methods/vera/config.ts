import { defineMethod } from '../define';
import { veraSharedShape } from './shapes';

export interface VeraConfig {
  r: number;
  /** Initial value of every λ_d entry (PEFT's `d_initial`). */
  dInitial: number;
}

/** PEFT's VeraConfig defaults. */
export const VERA_DEFAULTS: VeraConfig = { r: 256, dInitial: 0.1 };

/** VeRA (PEFT `tuners/vera`): frozen shared bases, per layer only two scaling vectors train. */
export const vera = defineMethod<VeraConfig>()({
  id: 'vera',
  label: 'VeRA',
  summary: 'Shares one pair of frozen random matrices across layers and trains only two scaling vectors per layer.',
  defaults: VERA_DEFAULTS,
  fields: [
    {
      key: 'r',
      label: 'VeRA r',
      help: 'Rank of the shared frozen random matrices: the update reaches rank ≤ r per layer, while trainable values stay at out + r per layer.',
      kind: 'int',
      min: 1,
    },
    { key: 'dInitial', label: 'd_initial', help: 'Starting value of the trainable scaling λ_d (PEFT’s default 0.1); λ_b starts at 0.', kind: 'float' },
  ],
  usesTargets: true,
  trainsBackbone: false,
  countParams: (c, layers) => layers.reduce((n, l) => n + l.out + c.r, 0),
  frozenFloats(c, layers) {
    if (!layers.length) return 0;
    const s = veraSharedShape(layers);
    // The bases, plus the transposed slice A_sᵀ (in × r) the GEMMs read, kept once per input width.
    const widths = new Set(layers.map((l) => l.in));
    return c.r * s.in + s.out * c.r + [...widths].reduce((n, I) => n + c.r * I, 0);
  },
  // W + ΔW (merged route) or ΔW (dense path) per adapted layer, kept from forward to backward.
  stepFloats: (_c, layers) => layers.reduce((n, l) => n + l.out * l.in, 0),
  maxRank: (c, l) => Math.min(c.r, l.in, l.out),
  knobs: { rank: 'r' },
  // out + r per layer: r moves the count by one per layer. Past 4096 the shared bases get large
  // while the rank stays capped at min(in, out).
  budget: { label: 'r', range: () => [1, 4096], apply: (c, r) => ({ ...c, r }), value: (c) => c.r },
  runName: (c) => `r=${c.r}`,
  // Only scaling vectors over frozen random bases train, so (as in the VeRA paper) a larger step.
  studyLr: 1e-2,
  export: { kind: 'peft', peftType: 'VERA', tooltip: 'adapter_config.json + adapter_model.safetensors (bases saved), for PeftModel.from_pretrained' },
  runtime: () => import('./runtime'),
  bench: () => import('./bench'),
});
