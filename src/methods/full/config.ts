import { defineMethod } from '../define';

/** Full fine-tuning: every backbone weight trains; the baseline adapters are measured against. */
export const full = defineMethod<Record<string, never>>()({
  id: 'full',
  label: 'Full fine-tuning',
  summary: 'Trains every weight of the model: the most capable and the most memory-hungry baseline.',
  defaults: {},
  fields: [],
  noSettingsNote: 'Full fine-tuning has no settings of its own: every weight trains with the training settings below.',
  usesTargets: false,
  trainsBackbone: true,
  // The backbone's size is the model's business; the trainer and the estimate count it from the weights.
  countParams: () => 0,
  frozenFloats: () => 0,
  maxRank: (_c, l) => Math.min(l.in, l.out),
  knobs: {},
  runName: () => '',
  comparisonLr: 5e-4,
  export: { kind: 'none' },
  runtime: () => import('./runtime'),
});
