/**
 * Which precision a run trains in, decided once before its first step: mixed (frozen block linear
 * weights in f16, f32 arithmetic; see models/mixedPrecision) when the device's setting asks for it,
 * the method leaves the frozen weights to the model, and the startup logits check passes; f32
 * otherwise. The report says which and why, for the run's notices and the GPU badge.
 */
import type { AdapterSet } from '../methods/types';
import type { Tensor } from '../engine/tensor';
import { enableMixedPrecision, frozenLinearWeights, MIXED_PRECISION_TOLERANCE, type MixedPrecisionCheck } from '../models/mixedPrecision';
import type { VisionTransformer } from '../models/vision';

export interface PrecisionReport {
  mode: 'mixed' | 'f32';
  /** Whether the device's setting asked for mixed precision (false: f32 by setting, nothing to report per run). */
  requested: boolean;
  /** One sentence a person reads: what runs and why. */
  message: string;
  check?: MixedPrecisionCheck;
}

/** How a person turns mixed precision on where it is off by default. */
export const MIXED_PRECISION_HINT = 'turn it on with ?mixed=1 in the page or RANKSCOPE_MIXED_PRECISION=1 under Node';

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 3 : 1)} MiB`;
}

/**
 * Applies the device's mixed-precision setting to a run's model. `keep` holds every tensor the
 * run trains or writes (those stay f32); `probe` makes a preprocessed image batch for the check
 * (the caller's data) and is released here.
 */
export async function decidePrecision(model: VisionTransformer, adapters: AdapterSet, keep: ReadonlySet<Tensor>, probe: () => Tensor): Promise<PrecisionReport> {
  if (!model.ctx.mixedPrecision) {
    const why = model.ctx.device.features.has('shader-f16') ? 'switched off' : 'off by default: this GPU has no shader-f16';
    return { mode: 'f32', requested: false, message: `Precision: f32 (mixed precision ${why}; ${MIXED_PRECISION_HINT}).` };
  }
  if (adapters.trainsBackbone || adapters.readsFrozenWeights) {
    const why = adapters.trainsBackbone ? 'this method trains the backbone\'s weights' : 'this method reads the frozen weights in f32';
    return { mode: 'f32', requested: true, message: `Precision: f32 (mixed precision is on, but ${why}, so they stay f32).` };
  }
  const names = frozenLinearWeights(model, keep);
  if (!names.length) return { mode: 'f32', requested: true, message: 'Precision: f32 (mixed precision is on, but no frozen linear weight is left to store in f16).' };
  const pixels = probe();
  let check: MixedPrecisionCheck;
  try {
    check = await enableMixedPrecision(model, names, pixels);
  } finally {
    pixels.release();
  }
  const err = check.error.toExponential(1);
  const tol = `${MIXED_PRECISION_TOLERANCE * 100} %`;
  if (!check.passed) {
    return { mode: 'f32', requested: true, check, message: `Precision: f32. Mixed precision was on, but its logits differed from f32 by ${err} of their scale (allowed ${tol}) on a probe batch, so the frozen weights stay f32.` };
  }
  return {
    mode: 'mixed',
    requested: true,
    check,
    message:
      `Precision: mixed. ${check.weights} frozen linear weights are stored in f16 (${mib(check.bytesF32)} → ${mib(check.bytesF16)}), ` +
      `arithmetic in f32; the startup check found logits within ${err} of f32 (allowed ${tol}).`,
  };
}

/** The device's mixed-precision setting, for the GPU badge's dialog. */
export interface PrecisionSetting {
  /** Whether runs try mixed precision (each still checks its logits first). */
  mixed: boolean;
  /** Whether the adapter has `shader-f16` (mixed precision's default). */
  shaderF16: boolean;
  /** Whether a person chose the setting (?mixed=, RANKSCOPE_MIXED_PRECISION) rather than the default. */
  chosen: boolean;
}

/** One paragraph on which precision runs on this device, and how to change it. */
export function precisionText(s: PrecisionSetting): string {
  const why = s.chosen ? 'as chosen' : s.shaderF16 ? 'the default where the GPU has shader-f16' : 'the default where the GPU has no shader-f16';
  if (s.mixed) {
    return (
      `Mixed precision (${why}): frozen linear weights are stored in f16, half their bytes, and every product and sum runs in f32. ` +
      `Each run first checks that its logits agree with f32 within ${MIXED_PRECISION_TOLERANCE * 100} % and otherwise keeps f32; its notices say which. ` +
      'Open the page with ?mixed=0 to run in f32.'
    );
  }
  return `f32 (${why}): every weight is stored and computed in f32. Open the page with ?mixed=1 to store frozen weights in f16 (mixed precision).`;
}
