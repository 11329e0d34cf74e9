import { defineMethod } from '../define';

export type NolaInit = 'nola' | 'zero-beta';

export interface NolaConfig {
  rank: number;
  /** Number of bases mixed into A (I × rank). */
  ka: number;
  /** Number of bases mixed into B (rank × O). */
  kb: number;
  /** ΔW is scaled by c / rank. */
  c: number;
  /** 'nola': α = 1/ka, β = 1/kb as in the reference code; 'zero-beta': α = 1/ka, β = 0, so ΔW = 0. */
  init: NolaInit;
}

/** rank 1 and ka = kb = 1024 as in the RandLoRA paper's NOLA runs (and UCDvision/NOLA's vit/run.sh). */
export const NOLA_DEFAULTS: Readonly<NolaConfig> = { rank: 1, ka: 1024, kb: 1024, c: 1, init: 'nola' };

/** Layers of one shape share bases, so the frozen memory grows with the distinct shapes, not the layers. */
function distinctShapes(layers: readonly { out: number; in: number }[]): Array<[number, number]> {
  return [...new Set(layers.map((l) => `${l.out}x${l.in}`))].map((k) => k.split('x').map(Number) as [number, number]);
}

/**
 * NOLA: LoRA factors mixed from frozen random bases; only the mixing coefficients train. We start
 * from β = 0 ('zero-beta') so every method begins at the pretrained model, which the comparison
 * needs; NOLA's own code starts at α = 1/ka, β = 1/kb (a tiny non-zero ΔW), still selectable.
 */
export const nola = defineMethod<NolaConfig>()({
  id: 'nola',
  label: 'NOLA',
  summary: 'Builds rank-r LoRA factors as mixtures of frozen random bases and trains only the mixing coefficients.',
  defaults: { ...NOLA_DEFAULTS, init: 'zero-beta' },
  fields: [
    { key: 'rank', label: 'NOLA rank', help: 'Rank of the mixed LoRA factors A and B: the update reaches rank ≤ rank per layer.', kind: 'int', min: 1 },
    { key: 'ka', label: 'ka (bases for A)', help: 'How many frozen random matrices are mixed into A; each is one trainable coefficient per layer.', kind: 'int', min: 1 },
    { key: 'kb', label: 'kb (bases for B)', help: 'How many frozen random matrices are mixed into B; each is one trainable coefficient per layer.', kind: 'int', min: 1 },
    { key: 'c', label: 'c (scale)', help: 'Scales the update by c / rank.', kind: 'float', min: 0, above: true },
    {
      key: 'init',
      label: 'Start',
      help: 'Where the coefficients start: β = 0 begins at the pretrained model like the other methods; NOLA’s code starts at α = 1/ka, β = 1/kb, a tiny non-zero update.',
      kind: 'choice',
      choices: [
        { value: 'zero-beta', label: 'β = 0 (pretrained model)' },
        { value: 'nola', label: 'α = 1/ka, β = 1/kb (NOLA’s code)' },
      ],
    },
  ],
  usesTargets: true,
  trainsBackbone: false,
  countParams: (c, layers) => layers.length * (c.ka + c.kb),
  frozenFloats: (c, layers) => distinctShapes(layers).reduce((n, [o, i]) => n + c.ka * i * c.rank + c.kb * c.rank * o, 0),
  maxRank: (c, l) => Math.min(c.rank, l.in, l.out),
  knobs: { rank: 'rank', scale: 'c' },
  // ka = kb = k, as the RandLoRA paper's NOLA runs set them: 2·k coefficients per layer.
  budget: { label: 'k', range: () => [1, 8192], apply: (c, k) => ({ ...c, ka: k, kb: k }), value: (c) => c.ka },
  runName: (c) => `r=${c.rank}`,
  export: {
    kind: 'own',
    configFile: 'nola_config.json',
    weightsFile: 'nola_coefficients.safetensors',
    tooltip: "NOLA's coefficients in Rankscope's documented format, with a NumPy script to rebuild ΔW",
  },
  runtime: () => import('./runtime'),
  bench: () => import('./bench'),
});
