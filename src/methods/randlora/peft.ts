/** RandLoRA in PEFT's adapter_config.json (RandLoraConfig, PEFT 0.21.0's fields). */
import type { PeftSpec } from '../types';
import type { RandLoraConfig } from './config';

export const randloraPeft: PeftSpec<RandLoraConfig> = {
  fields: (c, seed) => ({
    init_weights: true,
    // The counter-based seed our bases came from; PEFT would feed it to torch's generator, but
    // with save_projection the bases themselves are in the file and nothing is regenerated.
    projection_prng_key: seed >>> 0,
    r: c.r,
    save_projection: true,
    randlora_alpha: c.alpha,
    randlora_dropout: 0,
    sparse: false,
    very_sparse: false,
  }),
  floatFields: ['randlora_dropout'],
  fromFields: (_config, number) => ({ r: number('r', 32), alpha: number('randlora_alpha', 640) }),
  seeded: true,
  layerKeys: ['randlora_lambda', 'randlora_gamma'],
  sharedKeys: ['randlora_A', 'randlora_B'],
};
