/**
 * Element types as safetensors names them, and conversion between them and float32.
 *
 * Byte order: safetensors is little-endian, and so is every platform a browser or Node runs on
 * in practice, so typed-array views over copied bytes are used directly. `assertLittleEndian`
 * turns the remaining case into an error instead of silently wrong weights.
 */

/**
 * Every dtype the format defines, with its size in bytes. The order is the format's alignment
 * order (safetensors' `Dtype` enum, smallest first): writers sort tensors by it, descending, so
 * our files are laid out byte for byte as Python's `save_file` lays them out.
 */
export const SAFETENSORS_DTYPES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPES;

/** Dtypes this reader turns into float32. Integer ones are exact up to 2^24 (position ids, counters). */
export const DECODABLE_DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'] as const;
export type DecodableDtype = (typeof DECODABLE_DTYPES)[number];

/** Dtypes the writer can produce from float32 data. */
export type WritableDtype = 'F32' | 'F16' | 'BF16';

export function isKnownDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPES, s);
}

export function isDecodableDtype(s: string): s is DecodableDtype {
  return (DECODABLE_DTYPES as readonly string[]).includes(s);
}

export function dtypeSize(d: SafetensorsDtype): number {
  return SAFETENSORS_DTYPES[d];
}

export function dtypeAlignmentRank(d: SafetensorsDtype): number {
  return Object.keys(SAFETENSORS_DTYPES).indexOf(d);
}

export function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('This platform is big-endian; safetensors data is little-endian and is not byte-swapped here.');
  }
}

let f16Table: Float32Array | undefined;

/** All 65536 half values as float32: one lookup per element beats bit twiddling on big tensors. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const man = h & 0x3ff;
    if (exp === 0) t[h] = sign * man * 2 ** -24;
    else if (exp === 31) t[h] = man ? NaN : sign * Infinity;
    else t[h] = sign * (1 + man / 1024) * 2 ** (exp - 15);
  }
  f16Table = t;
  return t;
}

export function f16ToF32(bits: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

/** bfloat16 is the top half of a float32, so widening is a shift. */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
}

const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

/** float32 → IEEE half with round-to-nearest-even, overflow to ±Inf, and subnormals (as numpy does). */
export function f32ToF16Bits(v: number): number {
  scratchF[0] = v;
  const x = scratchU[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let man = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    man |= 0x800000;
    const shift = 14 - e;
    let half = man >>> shift;
    const rem = man & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  // A carry out of the mantissa bumps the exponent, which is exactly the right rounding (up to Inf).
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** float32 → bfloat16 with round-to-nearest-even; NaN stays a quiet NaN. */
export function f32ToBf16Bits(v: number): number {
  scratchF[0] = v;
  const x = scratchU[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function encodeF32(data: Float32Array, dtype: WritableDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint16Array(data.length);
  const enc = dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
  for (let i = 0; i < data.length; i++) out[i] = enc(data[i]);
  return new Uint8Array(out.buffer);
}

/**
 * Decodes `bytes` (little-endian, exactly n × size long) into float32. Returns a fresh array so
 * the caller may drop the file's buffer afterwards.
 */
export function decodeToF32(bytes: Uint8Array, dtype: DecodableDtype): Float32Array {
  assertLittleEndian();
  // Copy into an aligned buffer: tensor data in a file need not sit at a multiple of its size.
  // (new Uint8Array(view) copies; a Node Buffer's slice() would not, and .buffer would be the whole pool.)
  const buf = new Uint8Array(bytes).buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F16':
      return f16ToF32(new Uint16Array(buf));
    case 'BF16':
      return bf16ToF32(new Uint16Array(buf));
    case 'F64':
      return Float32Array.from(new Float64Array(buf));
    case 'I64': {
      const src = new BigInt64Array(buf);
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
      return out;
    }
    case 'I32':
      return Float32Array.from(new Int32Array(buf));
    case 'I16':
      return Float32Array.from(new Int16Array(buf));
    case 'I8':
      return Float32Array.from(new Int8Array(buf));
    case 'U8':
    case 'BOOL':
      return Float32Array.from(new Uint8Array(buf));
  }
}
