/**
 * Decompression bombs and damaged archives stop at a limit or at a checksum, with a message
 * naming the file, instead of inflating what the file claims.
 */
import { deflateSync, gzipSync, strToU8, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { maybeGunzip } from './datasets/idx';
import { TarSource } from './datasets/tar';
import { ZipSource } from './datasets/zip';
import { IoError } from './errors';
import { gunzipBounded, inflateBounded } from './inflate';
import { LIMITS } from './limits';

const MiB = 2 ** 20;
const zeros = (n: number) => new Uint8Array(n);

function thrown(f: () => unknown): IoError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(IoError);
    return e as IoError;
  }
  throw new Error('expected an IoError');
}

describe('bounded inflation', () => {
  it('stops a stream at its limit instead of inflating all of it', () => {
    const bomb = deflateSync(zeros(8 * MiB));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const e = thrown(() => inflateBounded(bomb, { file: 'x.bin', limit: MiB }));
    expect(e.message).toMatch(/^x\.bin unpacks to more than 1 MiB, so Rankscope stopped reading it/);
    expect(inflateBounded(bomb, { file: 'x.bin', limit: 8 * MiB }).length).toBe(8 * MiB);
  });

  it('gzip: checks the CRC and the length trailer, ignores a lying ISIZE', () => {
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251);
    const gz = gzipSync(data);
    expect(gunzipBounded(gz, { file: 'a.gz' })).toEqual(data);
    const badCrc = gz.slice();
    badCrc[badCrc.length - 6] ^= 0x40;
    expect(thrown(() => gunzipBounded(badCrc, { file: 'a.gz' })).message).toMatch(/a\.gz is damaged: its gzip checksum does not match/);
    // An ISIZE of 4 GiB − 1 once sized the output buffer; now it is only compared.
    const hugeSize = gz.slice();
    new DataView(hugeSize.buffer).setUint32(hugeSize.length - 4, 0xffffffff, true);
    expect(thrown(() => gunzipBounded(hugeSize, { file: 'a.gz' })).message).toMatch(/checksum does not match/);
    // A flipped byte in the stored (incompressible) data inflates fine and only the CRC catches it.
    const stored = gzipSync(Uint8Array.from({ length: 5000 }, () => Math.floor(Math.random() * 256)), { level: 0 });
    stored[stored.length - 100] ^= 1;
    expect(thrown(() => maybeGunzip(stored, 'train-images-idx3-ubyte.gz')).message).toMatch(/^train-images-idx3-ubyte\.gz is damaged/);
  });

  it('a gzip bomb past the per-file limit stops there', () => {
    const bomb = gzipSync(zeros(12 * MiB));
    expect(thrown(() => maybeGunzip(bomb, 'labels.gz', 4 * MiB)).message).toMatch(/labels\.gz unpacks to more than 4 MiB/);
  });
});

/** Rewrites a field of every central-directory entry of a zip. */
function patchCentral(zip: Uint8Array, at: number, value: (k: number, old: number) => number): Uint8Array {
  const out = zip.slice();
  const v = new DataView(out.buffer);
  let k = 0;
  for (let p = 0; p + 4 <= out.length; p++) {
    if (v.getUint32(p, true) === 0x02014b50) {
      v.setUint32(p + at, value(k, v.getUint32(p + at, true)), true);
      k++;
    }
  }
  return out;
}

describe('zip bombs', () => {
  it('an entry declaring more than the per-file limit is refused before anything is inflated', async () => {
    const zip = zipSync({ 'cats/a.png': zeros(1024) });
    const lying = patchCentral(zip, 24, () => LIMITS.inflatedFileBytes + 1);
    const src = new ZipSource(lying, 'bomb.zip');
    await expect(src.readBytes('cats/a.png')).rejects.toThrow(/cats\/a\.png in zip bomb\.zip unpacks to more than 512 MiB/);
  });

  it('an entry that inflates past its declared size stops at that size', async () => {
    const zip = zipSync({ 'cats/a.png': zeros(4 * MiB) });
    const lying = patchCentral(zip, 24, () => 1000);
    const src = new ZipSource(lying, 'bomb.zip');
    await expect(src.readBytes('cats/a.png')).rejects.toThrow(/cats\/a\.png in zip bomb\.zip is damaged.*1000 bytes its directory entry says/);
  });

  it('entries that share one stream are refused when the archive opens', () => {
    const zip = zipSync({ 'a/1.png': zeros(5000), 'a/2.png': zeros(5000) }, { level: 9 });
    const overlapping = patchCentral(zip, 42, (k, old) => (k === 1 ? 0 : old));
    expect(() => new ZipSource(overlapping, 'overlap.zip')).toThrow(/overlap\.zip is not a readable zip archive: the entries a\/1\.png and a\/2\.png overlap/);
  });
});

describe('tar', () => {
  it('a tar cut inside a header is refused, not read up to the cut', () => {
    const header = new Uint8Array(512);
    const name = strToU8('cats/a.png');
    header.set(name, 0);
    header.set(strToU8('0000644\0'), 100);
    header.set(strToU8('00000000012\0'), 124);
    header[156] = 48;
    header.set(strToU8('ustar\0'), 257);
    header.fill(32, 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.set(strToU8(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    const body = new Uint8Array(512);
    body.set(strToU8('0123456789'));
    const whole = new Uint8Array([...header, ...body, ...header.slice(0, 200)]);
    expect(() => new TarSource(whole, 'cut.tar')).toThrow(/cut\.tar is not a readable tar archive: it ends inside the header at byte 1024/);
    expect(new TarSource(new Uint8Array([...header, ...body, ...new Uint8Array(1024)]), 'ok.tar')).toBeInstanceOf(TarSource);
  });
});
