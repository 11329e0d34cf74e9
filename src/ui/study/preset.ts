/**
 * The demo's one-click study: LoRA vs RandLoRA vs VeRA at matched budgets, 3 seeds, with full
 * fine-tuning and the linear probe as references. On the demo ViT (hidden 48, 3 blocks, every
 * attention and MLP projection targeted) LoRA r = 1, 2, 4 trains 2,016, 4,032 and 8,064 adapter
 * values, so the budgets sit on those; RandLoRA and VeRA take their closest settings.
 */
import type { StudySpec } from '../../study/types';

export const DEMO_STUDY_TITLE = 'LoRA vs RandLoRA vs VeRA at matched budgets, 3 seeds';

/** Head included, as the comparison table counts: the demo's linear head trains 5 × 48 + 5 = 245 values. */
export const DEMO_STUDY: StudySpec = {
  methods: ['lora', 'randlora', 'vera'],
  budgets: [2261, 4277, 8309],
  seeds: [0, 1, 2],
  kShots: [null],
  references: ['full', 'probe'],
  includeHead: true,
};
