import type { Method } from './types';

/** Full fine-tuning: every backbone weight trains; the baseline adapters are measured against. */
export const full: Method<Record<string, never>> = {
  id: 'full',
  label: 'Full fine-tuning',
  summary: 'Trains every weight of the model: the most capable and the most memory-hungry baseline.',
  defaults: {},
  usesTargets: false,
  // The backbone's size is the model's business; the trainer counts it from the weights it trains.
  countParams: () => 0,
  maxRank: (_c, l) => Math.min(l.in, l.out),
  create: () => ({ method: 'full', layers: new Map(), shared: new Map(), trainsBackbone: true, release() {} }),
};
