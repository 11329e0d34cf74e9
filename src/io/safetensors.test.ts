import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16Bits, f32ToF16Bits } from './dtype';
import { IoError } from './errors';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from './safetensors';

/** Builds a file by hand: the length, the header text as given (padding included), the data. */
function handBuilt(header: string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function le(...parts: ArrayBufferView[]): Uint8Array {
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), o);
    o += p.byteLength;
  }
  return out;
}

function catchError(f: () => unknown): IoError {
  try {
    f();
  } catch (e) {
    return e as IoError;
  }
  throw new Error('expected an error');
}

describe('safetensors writer', () => {
  it('writes the exact bytes of the reference writer for one F32 tensor', () => {
    const out = writeSafetensors({ 'attn.0': { shape: [1, 2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) } });
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(header.length).toBe(64); // already a multiple of 8: no padding
    expect([...out]).toEqual([...handBuilt(header, le(Float32Array.from([0, 1, 2, 3, 4, 5])))]);
  });

  it('pads the header with spaces to a multiple of 8 and writes metadata first', () => {
    const out = writeSafetensors({}, { metadata: { framework: 'pt' } });
    const text = '{"__metadata__":{"framework":"pt"}}';
    expect(out.length).toBe(8 + 40);
    expect(new DataView(out.buffer).getUint32(0, true)).toBe(40);
    expect(new TextDecoder().decode(out.subarray(8))).toBe(text + ' '.repeat(40 - text.length));
  });

  it('orders data by dtype alignment then name, deterministically, whatever the insertion order', () => {
    const t = (dtype: 'F32' | 'F16' | 'BF16', n: number) => ({ shape: [n], data: new Float32Array(n).fill(1), dtype });
    const a = writeSafetensors(new Map([['z.half', t('F16', 3)], ['b.full', t('F32', 1)], ['10', t('F32', 2)], ['a.brain', t('BF16', 1)], ['a.full', t('F32', 1)]]), {
      metadata: { z: '1', a: '2' },
    });
    const b = writeSafetensors(new Map([['a.full', t('F32', 1)], ['a.brain', t('BF16', 1)], ['10', t('F32', 2)], ['b.full', t('F32', 1)], ['z.half', t('F16', 3)]]), {
      metadata: { a: '2', z: '1' },
    });
    expect([...a]).toEqual([...b]);
    const header = readSafetensorsHeader(a);
    expect(header.entries.map((e) => e.name)).toEqual(['10', 'a.full', 'b.full', 'a.brain', 'z.half']);
    expect(header.entries.map((e) => [e.begin, e.end])).toEqual([[0, 8], [8, 12], [12, 16], [16, 18], [18, 24]]);
    const text = new TextDecoder().decode(a.subarray(8, header.dataStart));
    // Key order in the header text follows the data order, integer-like names included.
    expect(text.indexOf('"__metadata__":{"a":"2","z":"1"}')).toBe(1);
    expect(text.indexOf('"10"')).toBeLessThan(text.indexOf('"a.full"'));
    expect(header.dataStart % 8).toBe(0);
  });

  it('round-trips F32 exactly and F16/BF16 to their precision, with metadata', () => {
    const data = Float32Array.from({ length: 37 }, (_, i) => Math.sin(i * 1.7) * 100);
    const bytes = writeSafetensors(
      { w: { shape: [37], data }, h: { shape: [37], data, dtype: 'F16' }, b: { shape: [37, 1], data, dtype: 'BF16' }, s: { shape: [], data: Float32Array.of(3.5) } },
      { metadata: { format: 'pt' } },
    );
    const file = readSafetensors(bytes, { fileName: 'x.safetensors' });
    expect(file.metadata).toEqual({ format: 'pt' });
    expect([...file.tensors.get('w')!.data]).toEqual([...data]);
    expect(file.tensors.get('h')!.dtype).toBe('F16');
    expect(file.tensors.get('b')!.shape).toEqual([37, 1]);
    expect(file.tensors.get('s')).toEqual({ dtype: 'F32', shape: [], data: Float32Array.of(3.5) });
    for (let i = 0; i < 37; i++) {
      expect(Math.abs(file.tensors.get('h')!.data[i] - data[i])).toBeLessThanOrEqual(Math.abs(data[i]) * 2 ** -11 + 1e-7);
      expect(Math.abs(file.tensors.get('b')!.data[i] - data[i])).toBeLessThanOrEqual(Math.abs(data[i]) * 2 ** -8);
    }
  });

  it('refuses data that does not fit the shape', () => {
    expect(() => writeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(/"w".*\[2, 2\] holds 4 values but the data has 3/);
  });
});

describe('safetensors reader on a hand-built file', () => {
  // Header not padded to 8 (some writers do not pad), so every tensor sits unaligned.
  const f16 = Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000); // 1, -2, 65504, 2^-24, Inf, -0
  const bf16 = Uint16Array.of(0x3f80, 0xc0a0, 0x7f80); // 1, -5, Inf
  const i64 = BigInt64Array.of(0n, 1n, -7n, 196n);
  const i32 = Int32Array.of(-3, 2 ** 24);
  const u8 = Uint8Array.of(0, 255);
  const data = le(i64, i32, f16, bf16, u8);
  const header =
    '{"u":{"dtype":"U8","shape":[2],"data_offsets":[34,36]},' +
    '"__metadata__":{"format":"pt"},' +
    '"position_ids":{"dtype":"I64","shape":[1,4],"data_offsets":[0,32]},' +
    '"half":{"dtype":"F16","shape":[2,3],"data_offsets":[40,52]},' +
    '"brain":{"dtype":"BF16","shape":[3],"data_offsets":[52,58]},' +
    '"ints":{"dtype":"I32","shape":[2],"data_offsets":[32,40]}}';

  it('reads every dtype into float32', () => {
    // Offsets in this header are deliberately wrong for "u"; fix the layout to match `data`.
    const good = header.replace('[34,36]', '[58,60]');
    const file = readSafetensors(handBuilt(good, data), { fileName: 'hand.safetensors' });
    expect(file.metadata).toEqual({ format: 'pt' });
    expect([...file.tensors.keys()]).toEqual(['position_ids', 'ints', 'half', 'brain', 'u']);
    expect([...file.tensors.get('half')!.data]).toEqual([1, -2, 65504, 2 ** -24, Infinity, -0]);
    expect(file.tensors.get('half')!.shape).toEqual([2, 3]);
    expect([...file.tensors.get('brain')!.data]).toEqual([1, -5, Infinity]);
    expect([...file.tensors.get('position_ids')!.data]).toEqual([0, 1, -7, 196]);
    expect(file.tensors.get('position_ids')!.dtype).toBe('I64');
    expect([...file.tensors.get('ints')!.data]).toEqual([-3, 2 ** 24]);
    expect([...file.tensors.get('u')!.data]).toEqual([0, 255]);
  });

  it('filters tensors by name', () => {
    const file = readSafetensors(handBuilt(header.replace('[34,36]', '[58,60]'), data), { filter: (n) => n.startsWith('h') });
    expect([...file.tensors.keys()]).toEqual(['half']);
  });

  it('names the file and tensor when offsets overlap', () => {
    const e = catchError(() => readSafetensors(handBuilt(header, data), { fileName: 'hand.safetensors' }));
    expect(e).toBeInstanceOf(IoError);
    expect(e.code).toBe('format');
    expect(e.message).toMatch(/^hand\.safetensors: tensors "ints" \[32, 40\) and "u" \[34, 36\) overlap/);
  });

  it('explains truncation, wrong sizes, unknown and unreadable dtypes, and bad headers', () => {
    const full = handBuilt(header.replace('[34,36]', '[58,60]'), data);
    expect(catchError(() => readSafetensors(full.subarray(0, full.length - 3), { fileName: 'cut.safetensors' })).message).toMatch(
      /cut\.safetensors: tensor "u" ends at data byte 60 but the file has only 57 bytes of data\. The file is truncated: download it again\./,
    );
    expect(catchError(() => readSafetensors(handBuilt('{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}', new Uint8Array(12)), { fileName: 'f' })).message).toMatch(
      /tensor "w" \(F32, shape \[2, 2\]\) needs 16 bytes but its data_offsets \[0, 12\] span 12/,
    );
    expect(catchError(() => readSafetensors(handBuilt('{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)))).message).toMatch(
      /tensor "w" has dtype "Q4", which is not a safetensors dtype/,
    );
    const fp8 = catchError(() => readSafetensors(handBuilt('{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}', new Uint8Array(2)), { fileName: 'q.safetensors' }));
    expect(fp8.code).toBe('unsupported');
    expect(fp8.message).toMatch(/q\.safetensors: tensor "w" is stored as F8_E4M3, which Rankscope cannot read\. Convert/);
    expect(catchError(() => readSafetensors(Uint8Array.of(1, 2, 3), { fileName: 'tiny' })).message).toMatch(/tiny: only 3 bytes long/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setUint32(4, 1, true);
    expect(catchError(() => readSafetensors(huge, { fileName: 'big' })).message).toMatch(/big: header length \d+ bytes is implausibly large/);
    expect(catchError(() => readSafetensors(handBuilt('{"w":', new Uint8Array(0)), { fileName: 'j' })).message).toMatch(/j: header is not valid UTF-8 JSON/);
    expect(catchError(() => readSafetensors(handBuilt('{"__metadata__":{"n":1}}', new Uint8Array(0)))).message).toMatch(/__metadata__\.n is 1, but metadata values must be strings/);
    const short = new Uint8Array(16);
    new DataView(short.buffer).setUint32(0, 100, true);
    expect(catchError(() => readSafetensors(short, { fileName: 's' })).message).toMatch(/s: header says it is 100 bytes long but the file has only 8 bytes/);
  });
});

describe('half and bfloat16 conversion', () => {
  it('rounds to nearest even, overflows to infinity and keeps subnormals', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [65504, 0x7bff],
      [65520, 0x7c00], // halfway to the next power rounds up to Inf
      [65519, 0x7bff],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // tie to even (zero)
      [3 * 2 ** -25, 0x0002], // tie to even (2)
      [2 ** -14, 0x0400],
      [1 + 2 ** -11, 0x3c00], // tie to even
      [1 + 3 * 2 ** -11, 0x3c02],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
    ];
    for (const [v, bits] of cases) expect(f32ToF16Bits(v), `f16(${v})`).toBe(bits);
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToF16Bits(NaN) & 0x3ff).not.toBe(0);
  });

  it('f16 → f32 → f16 is the identity on every non-NaN half', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f = f16ToF32(all);
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(f[h])) continue;
      if (f32ToF16Bits(f[h]) !== h) throw new Error(`half 0x${h.toString(16)} → ${f[h]} → 0x${f32ToF16Bits(f[h]).toString(16)}`);
    }
  });

  it('bfloat16 rounds to nearest even and round-trips', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie to even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32ToBf16Bits(-Infinity)).toBe(0xff80);
    expect(Number.isNaN(bf16ToF32(Uint16Array.of(f32ToBf16Bits(NaN)))[0])).toBe(true);
    const bits = Uint16Array.from({ length: 4096 }, (_, i) => i * 16);
    const f = bf16ToF32(bits);
    for (let i = 0; i < bits.length; i++) if (!Number.isNaN(f[i])) expect(f32ToBf16Bits(f[i])).toBe(bits[i]);
  });
});
