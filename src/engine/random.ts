// CPU only, so the page can split data sets with it without bundling kernels; the GPU fill
// and the generator's WGSL are in randomTensor.ts.

/** CPU mirror of shaders/random.wgsl, bit for bit: tests and exports rebuild bases with it. */
export function hash32(x0: number): number {
  let x = x0 >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

export function randU32(seed: number, stream: number, i: number): number {
  const a = (hash32(i) + Math.imul(seed >>> 0, 0x9e3779b9)) >>> 0;
  const b = (Math.imul(stream >>> 0, 0x85ebca6b) + 0x632be5ab) >>> 0;
  return hash32(hash32(a) ^ b);
}

export function randUnit(seed: number, stream: number, i: number): number {
  return (randU32(seed, stream, i) >>> 8) / 16777216;
}

/**
 * Uniform values are reproduced on any GPU to within an f32 rounding of the CPU mirror; normal
 * values only to WGSL's looser cos/log accuracy (about 1e-3), so bases that other code must
 * rebuild exactly (exports, NOLA's format) should be uniform.
 */
export type Distribution =
  | { kind: 'uniform'; lo: number; hi: number }
  | { kind: 'normal'; std: number };

/** The value the GPU fill kernel writes at index i, computed in float64. */
export function randomValue(seed: number, stream: number, i: number, dist: Distribution): number {
  if (dist.kind === 'uniform') return dist.lo + (dist.hi - dist.lo) * randUnit(seed, stream, i);
  const u1 = randUnit(seed, stream, 2 * i) + 0.5 / 16777216;
  const u2 = randUnit(seed, stream, 2 * i + 1);
  return dist.std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

export function randomArray(n: number, seed: number, stream: number, dist: Distribution): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = randomValue(seed, stream, i, dist);
  return out;
}

/** Unit standard deviation uniform: U(−√3, √3). */
export const UNIT_UNIFORM: Distribution = { kind: 'uniform', lo: -Math.sqrt(3), hi: Math.sqrt(3) };
