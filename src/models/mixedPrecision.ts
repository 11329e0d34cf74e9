/**
 * Mixed precision for a model: its frozen block linear weights stored in f16 (packed pairs, read
 * with WGSL's core `unpack2x16float`), every product and sum in f32. It halves those weights'
 * bytes and the bandwidth of reading them in the forward (x·Wᵀ) and input-gradient (dY·W) GEMMs.
 *
 * Before a run keeps it, a check compares the logits of a probe batch with the weights in f32 and
 * in f16: rounding a weight to f16 changes it by at most 2⁻¹¹ of itself, which moves a logit of a
 * trained model by about 10⁻³ of its scale; the check allows MIXED_PRECISION_TOLERANCE (1 %), and a
 * wrong kernel or an overflowing weight moves logits by their whole size. Failing the check puts
 * the weights back in f32 and says so.
 */
import { Tape } from '../engine/tape';
import type { Tensor } from '../engine/tensor';
import { linearSites } from './names';
import type { VisionTransformer } from './vision';

/** Largest |logit_f16 − logit_f32| allowed, as a fraction of max(1, max |logit_f32|). */
export const MIXED_PRECISION_TOLERANCE = 1e-2;

export interface MixedPrecisionCheck {
  /** max |logit_f16 − logit_f32| / max(1, max |logit_f32|) on the probe batch. */
  error: number;
  tolerance: number;
  passed: boolean;
  /** Weights stored in f16 (0 when the check failed and they went back to f32). */
  weights: number;
  /** GPU bytes of those weights in f32 and in f16. */
  bytesF32: number;
  bytesF16: number;
}

/** The block linear weights that can go to f16: every one but those in `keep` (trained or written). */
export function frozenLinearWeights(model: VisionTransformer, keep: ReadonlySet<Tensor>): string[] {
  return linearSites(model.spec)
    .map((s) => `${s.module}.weight`)
    .filter((n) => !keep.has(model.param(n)));
}

async function logitsOf(model: VisionTransformer, pixels: Tensor): Promise<Float32Array> {
  const tape = new Tape();
  const y = model.forward(tape, pixels);
  const v = await y.read();
  tape.clear();
  return v;
}

/**
 * Stores `names` in f16 if the model's logits on `pixels` (preprocessed, B × C × S × S) stay within
 * `tolerance` of the f32 ones; otherwise leaves them in f32. Adapters are left out of the probe:
 * what changes is the frozen weights' storage.
 */
export async function enableMixedPrecision(model: VisionTransformer, names: readonly string[], pixels: Tensor, tolerance = MIXED_PRECISION_TOLERANCE): Promise<MixedPrecisionCheck> {
  const f32 = await logitsOf(model, pixels);
  const bytesF32 = names.reduce((n, name) => n + model.param(name).bytes, 0);
  model.storeInF16(names);
  const bytesF16 = names.reduce((n, name) => n + model.param(name).bytes, 0);
  const f16 = await logitsOf(model, pixels);
  let scale = 1;
  for (const v of f32) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < f32.length; i++) {
    const d = Math.abs(f16[i] - f32[i]);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  const error = worst / scale;
  const passed = error <= tolerance;
  if (!passed) model.restoreF32();
  return { error, tolerance, passed, weights: passed ? names.length : 0, bytesF32, bytesF16 };
}
