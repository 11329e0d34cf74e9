/**
 * RandLoRA's shapes, pure arithmetic shared by config.ts (counts, estimate) and layer.ts (kernels):
 * the shared bases' sizes as PEFT's `_find_dim` picks them, and each layer's number of bases.
 */
/** PEFT's RandLoraConfig defaults: r = 32, randlora_alpha = 640 (20·r), projection_prng_key = 0. */
export const RANDLORA_DEFAULTS = { r: 32, alpha: 640, seed: 0 } as const;

/** Shapes of the shared bases: A is (r, 1, minDim), B is (maxDim, numBases, r). */
export interface RandLoraSharedShape {
  r: number;
  minDim: number;
  maxDim: number;
  numBases: number;
}

/** One layer's dimensions; `inputIsMin` selects ΔW = s·Bf·S (true) or s·(Bf·S)ᵀ (false). */
export interface RandLoraLayerShape {
  O: number;
  I: number;
  r: number;
  m: number;
  M: number;
  nb: number;
  inputIsMin: boolean;
}

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`RandLoRA: ${name} must be a positive integer, got ${v}`);
}

/** ceil(m / r), as PEFT computes the number of bases that makes the update full rank. */
export function randloraNumBases(m: number, r: number): number {
  return Math.ceil(m / r);
}

/**
 * Shared basis shapes for a list of targeted layers given as (out, in), exactly as PEFT's
 * `_find_dim`: the element-wise maximum (out_max, in_max) over the layers, then
 * minDim = min(out_max, in_max), maxDim = max(out_max, in_max). Note this is not the largest
 * per-layer min dimension: targeting 768x3072 and 3072x768 layers together gives 3072 x 3072.
 */
export function randloraSharedShape(layers: ReadonlyArray<readonly [number, number]>, r: number): RandLoraSharedShape {
  checkPositiveInt('r', r);
  if (layers.length === 0) {
    throw new Error('RandLoRA: no target layers were given, so the shared bases have no size; target at least one linear layer');
  }
  let outMax = 0;
  let inMax = 0;
  for (const [O, I] of layers) {
    checkPositiveInt('a target layer dimension', O);
    checkPositiveInt('a target layer dimension', I);
    outMax = Math.max(outMax, O);
    inMax = Math.max(inMax, I);
  }
  const minDim = Math.min(outMax, inMax);
  return { r, minDim, maxDim: Math.max(outMax, inMax), numBases: randloraNumBases(minDim, r) };
}

export function randloraLayerShape(O: number, I: number, r: number): RandLoraLayerShape {
  checkPositiveInt('out features', O);
  checkPositiveInt('in features', I);
  checkPositiveInt('r', r);
  const m = Math.min(I, O);
  return { O, I, r, m, M: Math.max(I, O), nb: randloraNumBases(m, r), inputIsMin: I <= O };
}

/** Trainable parameters RandLoRA adds to an O x I layer: lambda (r·nb) plus gamma (nb·m). */
export function randloraParamCount(O: number, I: number, r: number): number {
  const s = randloraLayerShape(O, I, r);
  return s.r * s.nb + s.nb * s.m;
}

/** Throws, as PEFT does, when a layer needs more of the shared bases than they hold. */
export function checkLayerFits(shared: RandLoraSharedShape, layer: RandLoraLayerShape): void {
  const where = `layer ${layer.O}x${layer.I}`;
  if (layer.r !== shared.r) throw new Error(`RandLoRA ${where}: r = ${layer.r} but the shared bases were made with r = ${shared.r}`);
  if (layer.M > shared.maxDim) {
    throw new Error(`RandLoRA ${where}: randlora_B has ${shared.maxDim} rows but ${layer.M} are needed; include this layer when sizing the shared bases`);
  }
  if (layer.m > shared.minDim) {
    throw new Error(`RandLoRA ${where}: randlora_A has ${shared.minDim} columns but ${layer.m} are needed; include this layer when sizing the shared bases`);
  }
}

/**
 * Floats of the dense Bf (M x r·nb) the GPU keeps for a layer shape beside the shared basis: 0 when
 * Bf is the basis itself (M = maxDim and nb = numBases), else M·r·nb, once per distinct (M, nb).
 */
export function randloraBfFloats(shared: RandLoraSharedShape, shape: RandLoraLayerShape): number {
  const J = shape.r * shape.nb;
  return shape.M === shared.maxDim && J === shared.numBases * shared.r ? 0 : shape.M * J;
}

/** Frozen floats on the GPU: the shared bases A and B, plus one Bf per distinct layer shape. */
export function randloraFrozenFloats(layers: ReadonlyArray<readonly [number, number]>, r: number): number {
  const s = randloraSharedShape(layers, r);
  const bf = new Map<string, number>();
  for (const [O, I] of layers) {
    const shape = randloraLayerShape(O, I, r);
    bf.set(`${shape.M}x${shape.nb}`, randloraBfFloats(s, shape));
  }
  return s.r * s.minDim + s.maxDim * s.numBases * s.r + [...bf.values()].reduce((a, b) => a + b, 0);
}
