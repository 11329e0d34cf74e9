import { defineMethod } from '../define';

/** Linear probe: the backbone stays frozen and only the classification head trains. */
export const probe = defineMethod<Record<string, never>>()({
  id: 'probe',
  label: 'Linear probe',
  summary: 'Freezes the whole backbone and trains only the classification head on its features.',
  defaults: {},
  fields: [],
  noSettingsNote: 'The linear probe has no settings of its own: only the classification head trains, with the training settings below.',
  usesTargets: false,
  trainsBackbone: false,
  countParams: () => 0,
  frozenFloats: () => 0,
  maxRank: () => 0,
  knobs: {},
  runName: () => '',
  export: { kind: 'none' },
  runtime: () => import('./runtime'),
});
