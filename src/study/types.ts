/**
 * A study: methods × trainable-parameter budgets × seeds (× k-shot), on one model and one split,
 * with full fine-tuning, the linear probe (and CLIP's zero-shot head) as references. Plain data,
 * shared by the CLI (scripts/study.ts) and the page.
 *
 * Counting: a budget counts the same trainable values as the comparison table
 * (src/session/estimate.ts) and a run's `trainable_params`: the method's own values plus the
 * classification head when `includeHead` is true (the default everywhere). Full fine-tuning counts
 * the whole backbone and the head; the probe only the head.
 */
import type { LayerIntruders } from '../train/intruders';

export type { LayerIntruders } from '../train/intruders';

export type StudyReference = 'full' | 'probe' | 'zeroshot';

export interface StudySpec {
  /** Method ids with a budget knob (adapters only: lora, dora, randlora, vera, nola). */
  methods: string[];
  /** Trainable-parameter budgets, counted as `includeHead` says. */
  budgets: number[];
  seeds: number[];
  /** Images per class for each study arm; null = all training data. */
  kShots: Array<number | null>;
  references: StudyReference[];
  /** Whether budgets and counts include the classification head (as the comparison table does). */
  includeHead: boolean;
  /**
   * When the knob is the method's rank (`knobs.rank`) and it has a scale knob (`knobs.scale`):
   * 'ratio' (default) keeps scale / rank as in the base settings, so s = α/r stays what the base
   * gives (LoRA α = r, RandLoRA α = 20·r with PEFT's defaults); 'fixed' keeps α as given.
   */
  scale?: 'ratio' | 'fixed';
}

export interface StudyCell {
  /** Stable across runs and reloads, e.g. "lora|b=6000|s=1|k=4" or "full|ref|s=0|k=all". */
  key: string;
  method: string;
  /** The method's full settings for this cell (defaults + base settings + the matched knob). */
  config: Record<string, unknown>;
  /** The matched setting as the study shows it, e.g. "r=4" or "k=64" ('' for references). */
  setting: string;
  /** Trainable values of this cell, counted as the spec's `includeHead` says. */
  trainable_params: number;
  /** null for references. */
  budget: number | null;
  seed: number;
  /** Images per class; null = all training data. */
  k_shot: number | null;
  reference: boolean;
  /** Whether the budget lies within the method's range (false: the nearest end of the range was taken). */
  reachable: boolean;
  /** Plain words for a person, e.g. "NOLA cannot go below 1,234 values". */
  note?: string;
}

export type StudyRowStatus = 'done' | 'failed' | 'diverged';

export interface StudyRow extends StudyCell {
  status: StudyRowStatus;
  best_val_accuracy: number;
  final_val_accuracy: number;
  /** Mean over targeted layers of the ΔW numerical rank (NaN where none). */
  rank_numerical: number;
  /** Mean over targeted layers of the ΔW effective rank (NaN where none). */
  rank_effective: number;
  /** Intruder dimensions at ε = 0.5, summed over targeted layers. */
  intruders: number;
  intruders_per_layer?: LayerIntruders[];
  run_id?: string;
  seconds?: number;
}
