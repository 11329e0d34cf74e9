/**
 * The safetensors format: 8 bytes of little-endian u64 header length N, N bytes of UTF-8 JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { key: string } }`, then
 * the data, with offsets relative to the start of the data. Nothing in it can run code, which is
 * why it is the only weight format Rankscope reads.
 */
import {
  SAFETENSORS_DTYPES,
  decodeToF32,
  dtypeAlignmentRank,
  dtypeSize,
  encodeF32,
  isDecodableDtype,
  isKnownDtype,
  type SafetensorsDtype,
  type WritableDtype,
} from './dtype';
import { IoError } from './errors';

/** The reference implementation refuses larger headers; a bigger one means a corrupt file. */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Where the data section starts in the file: 8 + header length. */
  dataStart: number;
  metadata: Record<string, string>;
  /** In file order (by offset). */
  entries: SafetensorsEntry[];
}

export interface LoadedTensor {
  /** The dtype in the file; `data` is always float32. */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, LoadedTensor>;
}

export interface ReadSafetensorsOptions {
  /** Named in every error message, e.g. 'google/vit-base-patch16-224/model.safetensors'. */
  fileName?: string;
  /** Keep only tensors for which this returns true (e.g. the vision tower of a full CLIP). */
  filter?: (name: string) => boolean;
}

function formatError(fileName: string, what: string, todo = 'The file is damaged or not a safetensors file: download or export it again.'): IoError {
  return new IoError('format', `${fileName}: ${what}. ${todo}`, fileName);
}

function asBytes(input: ArrayBuffer | Uint8Array): Uint8Array {
  return input instanceof Uint8Array ? input : new Uint8Array(input);
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and validates the header only; no tensor data is touched. */
export function readSafetensorsHeader(input: ArrayBuffer | Uint8Array, fileName = 'safetensors file'): SafetensorsHeader {
  const bytes = asBytes(input);
  if (bytes.length < 8) throw formatError(fileName, `only ${bytes.length} bytes long, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const n = hi * 2 ** 32 + lo;
  if (hi !== 0 || n > MAX_HEADER_BYTES) throw formatError(fileName, `header length ${n} bytes is implausibly large`);
  if (8 + n > bytes.length) {
    throw formatError(fileName, `header says it is ${n} bytes long but the file has only ${bytes.length - 8} bytes after the length`, 'The file is truncated: download it again.');
  }
  let json: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    json = JSON.parse(text);
  } catch (e) {
    throw formatError(fileName, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw formatError(fileName, 'header is not a JSON object');

  const dataLength = bytes.length - 8 - n;
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw formatError(fileName, '__metadata__ is not an object of strings');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw formatError(fileName, `__metadata__.${k} is ${JSON.stringify(v)}, but metadata values must be strings`);
        metadata[k] = v;
      }
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) throw formatError(fileName, `entry for tensor "${name}" is not an object`);
    if (!isKnownDtype(info.dtype)) {
      throw formatError(
        fileName,
        `tensor "${name}" has dtype ${JSON.stringify(info.dtype)}, which is not a safetensors dtype (known: ${Object.keys(SAFETENSORS_DTYPES).join(', ')})`,
      );
    }
    if (!Array.isArray(info.shape) || !info.shape.every(isNonNegativeInt)) {
      throw formatError(fileName, `tensor "${name}" has shape ${JSON.stringify(info.shape)}; a shape must be a list of non-negative integers`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !isNonNegativeInt(offs[0]) || !isNonNegativeInt(offs[1]) || offs[1] < offs[0]) {
      throw formatError(fileName, `tensor "${name}" has data_offsets ${JSON.stringify(offs)}; expected [begin, end] with 0 ≤ begin ≤ end`);
    }
    const shape = info.shape as number[];
    const [begin, end] = offs as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    const expected = count * dtypeSize(info.dtype);
    if (end - begin !== expected) {
      throw formatError(
        fileName,
        `tensor "${name}" (${info.dtype}, shape [${shape.join(', ')}]) needs ${expected} bytes but its data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (end > dataLength) {
      throw formatError(
        fileName,
        `tensor "${name}" ends at data byte ${end} but the file has only ${dataLength} bytes of data`,
        'The file is truncated: download it again.',
      );
    }
    entries.push({ name, dtype: info.dtype, shape, begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1];
    const cur = entries[i];
    if (cur.begin < prev.end) {
      throw formatError(fileName, `tensors "${prev.name}" [${prev.begin}, ${prev.end}) and "${cur.name}" [${cur.begin}, ${cur.end}) overlap`);
    }
  }
  return { dataStart: 8 + n, metadata, entries };
}

/** Decodes one tensor of a parsed file to float32; unknown dtypes get an error naming the tensor. */
export function decodeSafetensorsEntry(input: ArrayBuffer | Uint8Array, header: SafetensorsHeader, entry: SafetensorsEntry, fileName = 'safetensors file'): Float32Array {
  if (!isDecodableDtype(entry.dtype)) {
    throw new IoError(
      'unsupported',
      `${fileName}: tensor "${entry.name}" is stored as ${entry.dtype}, which Rankscope cannot read. ` +
        'Convert the checkpoint to float32, float16 or bfloat16 (for example load it in PyTorch, call .float() and save it with safetensors `save_file`).',
      fileName,
    );
  }
  const bytes = asBytes(input);
  return decodeToF32(bytes.subarray(header.dataStart + entry.begin, header.dataStart + entry.end), entry.dtype);
}

/** Reads a whole safetensors file into float32 tensors. */
export function readSafetensors(input: ArrayBuffer | Uint8Array, options: ReadSafetensorsOptions = {}): SafetensorsFile {
  const fileName = options.fileName ?? 'safetensors file';
  const header = readSafetensorsHeader(input, fileName);
  const tensors = new Map<string, LoadedTensor>();
  for (const e of header.entries) {
    if (options.filter && !options.filter(e.name)) continue;
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decodeSafetensorsEntry(input, header, e, fileName) });
  }
  return { metadata: header.metadata, tensors };
}

export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array;
  /** Stored dtype; float32 unless asked (F16 halves the size of an exported adapter). */
  dtype?: WritableDtype;
}

export interface WriteSafetensorsOptions {
  /** Free-form strings, e.g. PEFT's {"format": "pt"}. Written with sorted keys. */
  metadata?: Record<string, string>;
}

/**
 * Serialises tensors the way the reference writer (used by Python's `save_file`) does: data
 * ordered by dtype alignment, largest first, then by name; header keys in that same order after
 * `__metadata__`; compact JSON padded with spaces to a multiple of 8 so the data is 8-byte
 * aligned. The same input always gives the same bytes.
 */
export function writeSafetensors(
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  options: WriteSafetensorsOptions = {},
): Uint8Array {
  const list = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).map(([name, t]) => {
    const dtype = t.dtype ?? 'F32';
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((v) => isNonNegativeInt(v))) throw new Error(`Cannot write tensor "${name}": shape [${t.shape.join(', ')}] must hold non-negative integers.`);
    if (count !== t.data.length) {
      throw new Error(`Cannot write tensor "${name}": shape [${t.shape.join(', ')}] holds ${count} values but the data has ${t.data.length}.`);
    }
    if (name === '__metadata__') throw new Error('"__metadata__" is reserved by the safetensors format and cannot name a tensor.');
    return { name, dtype, shape: [...t.shape], data: t.data };
  });
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  list.sort((a, b) => dtypeAlignmentRank(b.dtype) - dtypeAlignmentRank(a.dtype) || byName(a.name, b.name));

  // Built by hand, not with JSON.stringify of an object: JavaScript objects list integer-like
  // keys (a tensor named "0") first, which would break the documented order.
  const parts: string[] = [];
  if (options.metadata && Object.keys(options.metadata).length > 0) {
    const meta: string[] = [];
    for (const k of Object.keys(options.metadata).sort(byName)) {
      const v = options.metadata[k];
      if (typeof v !== 'string') throw new Error(`Cannot write safetensors metadata "${k}": values must be strings, got ${JSON.stringify(v)}.`);
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${meta.join(',')}}`);
  }
  const encoded: Uint8Array[] = [];
  let offset = 0;
  for (const t of list) {
    const bytes = encodeF32(t.data, t.dtype);
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify(info)}`);
    offset += bytes.length;
    encoded.push(bytes);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let pos = 8 + headerLength;
  for (const b of encoded) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}
