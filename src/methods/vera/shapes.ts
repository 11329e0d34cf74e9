/** VeRA's shared-basis shape, pure arithmetic shared by config.ts (estimate) and layer.ts. */
/** A linear layer's weight shape: W is (out, in). */
export interface LayerShape {
  out: number;
  in: number;
}

/**
 * The shape (O_max, I_max) the shared bases are made for: the elementwise maximum of the targeted
 * layers' (out, in), as PEFT's `_find_dim` takes it, so every layer's slices fit inside.
 */
export function veraSharedShape(targets: readonly LayerShape[]): LayerShape {
  if (targets.length === 0) {
    throw new Error('VeRA: no target layers were given, so the shared bases have no size; target at least one linear layer');
  }
  let out = 0;
  let inn = 0;
  for (const t of targets) {
    if (!(Number.isInteger(t.out) && Number.isInteger(t.in) && t.out > 0 && t.in > 0)) {
      throw new Error(`VeRA: target layer shape (out=${t.out}, in=${t.in}) is not a pair of positive integers`);
    }
    out = Math.max(out, t.out);
    inn = Math.max(inn, t.in);
  }
  return { out, in: inn };
}
