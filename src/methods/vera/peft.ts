/** VeRA in PEFT's adapter_config.json (VeraConfig, PEFT 0.21.0's fields). */
import type { PeftSpec } from '../types';
import type { VeraConfig } from './config';

export const veraPeft: PeftSpec<VeraConfig> = {
  fields: (c, seed) => ({
    init_weights: true,
    // With save_projection the bases are in the file; the seed only records where ours came from.
    projection_prng_key: seed >>> 0,
    r: c.r,
    save_projection: true,
    d_initial: c.dInitial,
    vera_dropout: 0,
  }),
  floatFields: ['vera_dropout', 'd_initial'],
  fromFields: (_config, number) => ({ r: number('r', 256), dInitial: number('d_initial', 0.1) }),
  seeded: true,
  layerKeys: ['vera_lambda_b', 'vera_lambda_d'],
  sharedKeys: ['vera_A', 'vera_B'],
};
