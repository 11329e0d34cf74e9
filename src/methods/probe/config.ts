import type { Method } from './types';

/** Linear probe: the backbone stays frozen and only the classification head trains. */
export const probe: Method<Record<string, never>> = {
  id: 'probe',
  label: 'Linear probe',
  summary: 'Freezes the whole backbone and trains only the classification head on its features.',
  defaults: {},
  usesTargets: false,
  countParams: () => 0,
  maxRank: () => 0,
  create: () => ({ method: 'probe', layers: new Map(), shared: new Map(), trainsBackbone: false, release() {} }),
};
