/**
 * Bounded decompression: data is inflated in slices through fflate's streaming classes and
 * stops as soon as the output passes its limit, so a bomb costs at most the limit in memory and
 * time, never what its header or the deflate stream claims. gzip's CRC-32 and length trailer are
 * checked, so a damaged .gz is refused instead of loading wrong pixels.
 */
import { Gunzip, Inflate } from 'fflate';
import { crc32 } from './crc32';
import { IoError } from './errors';
import { formatBytes, LIMITS } from './limits';

export interface InflateOptions {
  /** Names the file in messages. */
  file: string;
  /** Output bytes allowed; LIMITS.inflatedFileBytes by default. */
  limit?: number;
}

const SLICE = 1 << 16;

export function inflateTooLarge(file: string, limit: number): IoError {
  return new IoError(
    'format',
    `${file} unpacks to more than ${formatBytes(limit)}, so Rankscope stopped reading it (the limit keeps a damaged or hostile archive from filling memory). ` +
      'If the file is genuine, unpack it yourself and load the folder.',
    file,
  );
}

function run(stream: Gunzip | Inflate, input: Uint8Array, file: string, limit: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  stream.ondata = (chunk) => {
    total += chunk.length;
    if (total > limit) throw inflateTooLarge(file, limit);
    chunks.push(chunk);
  };
  try {
    for (let p = 0; p < input.length; p += SLICE) stream.push(input.subarray(p, Math.min(input.length, p + SLICE)), p + SLICE >= input.length);
    if (input.length === 0) stream.push(new Uint8Array(0), true);
  } catch (e) {
    if (e instanceof IoError) throw e;
    throw new IoError('format', `${file} is damaged: its compressed data does not inflate (${(e as Error).message}). Download it again.`, file, { cause: e });
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Raw deflate (a zip entry's data), at most `limit` bytes out. */
export function inflateBounded(raw: Uint8Array, o: InflateOptions): Uint8Array {
  return run(new Inflate(), raw, o.file, o.limit ?? LIMITS.inflatedFileBytes);
}

export const isGzip = (bytes: Uint8Array) => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** A gzip file's contents, checked against its CRC-32 and length trailer, at most `limit` bytes. */
export function gunzipBounded(bytes: Uint8Array, o: InflateOptions): Uint8Array {
  const out = run(new Gunzip(), bytes, o.file, o.limit ?? LIMITS.inflatedFileBytes);
  if (bytes.length < 18) throw new IoError('format', `${o.file} is damaged: too short for a gzip file. Download it again.`, o.file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const crc = view.getUint32(bytes.length - 8, true);
  const size = view.getUint32(bytes.length - 4, true);
  if (size !== out.length % 2 ** 32 || crc32(out) !== crc) {
    throw new IoError('format', `${o.file} is damaged: its gzip checksum does not match what it unpacks to. Download it again.`, o.file);
  }
  return out;
}
