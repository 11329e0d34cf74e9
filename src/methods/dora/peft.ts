/** DoRA in PEFT's adapter_config.json: LoraConfig with use_dora true, the magnitude under PEFT's key. */
import { loraPeft, loraPeftFields } from '../lora/peft';
import type { PeftSpec } from '../types';
import type { DoraConfig } from './config';

/** PEFT's state-dict key of the magnitude: `<module>.lora_magnitude_vector.weight` (adapter name removed). */
export const DORA_MAGNITUDE_KEY = 'lora_magnitude_vector.weight';

export const doraPeft: PeftSpec<DoraConfig> = {
  ...loraPeft,
  fields: (c) => loraPeftFields(c, true),
  layerKeys: [...loraPeft.layerKeys, DORA_MAGNITUDE_KEY],
  implements: ['use_dora'],
};
