/**
 * What the page sends the lab worker to compose finished runs (aTLAS, session/compose.ts), and what
 * comes back: plain, structured-cloneable data.
 */
import type { ComposeEstimate, ComposeSettings } from './compose';
import type { HeadKind } from '../models/zeroShot';
import type { CombineMember } from './combineTypes';

export interface ComposeRequest {
  members: CombineMember[];
  settings: ComposeSettings;
  /** The target: k images per class of the lab's training split (seeded by settings.seed); the whole split when absent. */
  kShot?: number;
  /** GPU memory the composition may take; past it the lab refuses with the estimate's message. */
  limitBytes: number;
}

export interface ComposeOutcome {
  finalValAccuracy: number;
  baseAccuracy: number;
  sumAccuracy: number;
  members: Array<{ runId?: string; name: string; accuracy: number | null; note?: string }>;
  coefficients: { taskVectors: string[]; blocks: string[]; layerOf: string[]; groups: number; values: number[][][] };
  curve: Array<{ step: number; loss: number; valAccuracy?: number }>;
  estimate: ComposeEstimate;
  trainImages: number;
  valImages: number;
  kShot: number | null;
  classNames: string[];
  seconds: number;
  /** Learned λ plus the trainable head. */
  trainableParams: number;
  /** The head the composition and its baselines used (absent in outcomes saved before there was a choice: linear). */
  head?: HeadKind;
  /** composition.json: coefficients, member runs and fingerprints, K, settings. */
  composition: Uint8Array;
  /** The composed model as a Hugging Face checkpoint (config.json, model.safetensors, preprocessor_config.json), zipped; absent past the size the page keeps. */
  merged?: Uint8Array;
}
