/** LoRA in PEFT's adapter_config.json (LoraConfig, PEFT 0.21.0's fields; see src/io/peft/config.ts). */
import type { PeftSpec } from '../types';
import type { LoraConfig } from './config';

/** LoraConfig's own fields as PEFT 0.21.0 writes them; `useDora` is LoRA's DoRA switch (src/methods/dora). */
export function loraPeftFields(c: LoraConfig, useDora: boolean): Record<string, unknown> {
  return {
    alora_invocation_tokens: null,
    alpha_pattern: {},
    arrow_config: null,
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    init_lora_weights: true,
    kasa_config: null,
    layer_replication: null,
    loftq_config: {},
    lora_alpha: c.alpha,
    lora_bias: false,
    lora_dropout: 0,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    monteclora_config: null,
    qalora_group_size: 16,
    r: c.r,
    rank_pattern: {},
    target_parameters: null,
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: useDora,
    use_qalora: false,
    use_rslora: c.rslora,
    velora_config: null,
  };
}

export const loraPeft: PeftSpec<LoraConfig> = {
  fields: (c) => loraPeftFields(c, false),
  floatFields: ['lora_dropout'],
  fromFields: (config, number) => ({ r: number('r', 8), alpha: number('lora_alpha', 8), rslora: config.use_rslora === true }),
  seeded: false,
  layerKeys: ['lora_A.weight', 'lora_B.weight'],
  sharedKeys: [],
};
