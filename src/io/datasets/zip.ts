/**
 * A zip archive as a FileSource, so a zip of class folders (or of IDX, CIFAR or parquet files)
 * loads through the same readers as a folder. The central directory is read once; each entry is
 * inflated (fflate) only when a reader asks for it, and checked against its CRC-32, so one
 * damaged entry is reported as that file's problem and the rest of the archive still loads.
 * Zip64 archives (more than 65,535 entries, as a zip of all 70,000 MNIST PNGs has) are read too.
 * No Node modules: this runs in the page's worker and under Node alike.
 */
import { crc32 } from '../crc32';
import { inflateBounded, inflateTooLarge } from '../inflate';
import { formatBytes, LIMITS } from '../limits';
import { IoError, throwIfAborted } from '../errors';
import { safeRelativePath, utf8, type FileSource, type ReadOptions } from '../source';
import { IMAGE_EXTENSIONS } from './imageFormat';

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}


/** True when the bytes start like a zip archive (a local file header, or an empty archive's end record). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6));
}

const METHOD_NAMES: Record<number, string> = { 9: 'Deflate64', 12: 'bzip2', 14: 'LZMA', 93: 'Zstandard', 95: 'XZ', 98: 'PPMd', 99: 'AES encryption' };

function u64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

function parseCentralDirectory(bytes: Uint8Array, where: string): ZipEntry[] {
  const bad = (what: string) =>
    new IoError('format', `${where} is not a readable zip archive: ${what}. Create the zip again (for example with your system's "Compress" command).`, where);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record is the last 22 bytes, plus a comment of up to 65,535 bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad(bytes.length < 22 ? `only ${bytes.length} bytes long` : 'its end record is missing (the file is truncated or not a zip)');
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || view.getUint32(locator, true) !== 0x07064b50) throw bad('it says it is a zip64 archive but has no zip64 locator');
    const rec = u64(view, locator + 8);
    if (rec + 56 > bytes.length || view.getUint32(rec, true) !== 0x06064b50) throw bad('its zip64 end record is missing');
    count = u64(view, rec + 32);
    cdSize = u64(view, rec + 40);
    cdOffset = u64(view, rec + 48);
  }
  if (cdOffset + cdSize > bytes.length) throw bad(`its directory lies past the end of the file (truncated: ${bytes.length} bytes)`);
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== 0x02014b50) throw bad(`directory entry ${k + 1} of ${count} is damaged`);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    let localOffset = view.getUint32(p + 42, true);
    const name = utf8.decode(bytes.subarray(p + 46, p + 46 + nameLength));
    // Zip64 sizes and offset, for the fields set to 0xffffffff, in this order.
    if (p + 46 + nameLength + extraLength > bytes.length) throw bad(`directory entry ${k + 1} of ${count} runs past the end of the file`);
    for (let e = p + 46 + nameLength, end = e + extraLength; e + 4 <= end; ) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        // Each 8-byte value must lie inside this extra field.
        const next = () => {
          if (q + 8 > Math.min(e + 4 + len, end)) throw bad(`the zip64 sizes of ${name} are cut short`);
          const v = u64(view, q);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localOffset === 0xffffffff) localOffset = next();
      }
      e += 4 + len;
    }
    p += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue; // a folder
    entries.push({ name: name.replace(/\\/g, '/'), method, flags, crc, compressedSize, size, localOffset });
  }
  // Entries whose data overlap (several names pointing at one deflate stream) are how zip bombs
  // multiply a small file; no archiver writes them.
  const byOffset = [...entries].sort((x, y) => x.localOffset - y.localOffset);
  for (let i = 1; i < byOffset.length; i++) {
    const a = byOffset[i - 1];
    const b = byOffset[i];
    if (a.localOffset + 30 + a.compressedSize > b.localOffset) {
      throw bad(`the entries ${a.name} and ${b.name} overlap (they share their data, which only a zip bomb does)`);
    }
  }
  return entries;
}

/**
 * Names of a zip's files with the archive's own top folder removed when every entry shares one
 * ("animals/cat/1.png" → "cat/1.png"), as for a dropped folder, unless that would leave only
 * loose images (then the top folder was itself a class).
 */
function stripSharedTop(names: string[]): { top: string; names: string[] } {
  const tops = new Set(names.map((n) => (n.includes('/') ? n.slice(0, n.indexOf('/')) : '')));
  if (tops.size !== 1) return { top: '', names };
  const [top] = tops;
  if (!top) return { top: '', names };
  const stripped = names.map((n) => n.slice(top.length + 1));
  if (stripped.every((n) => !n.includes('/') && IMAGE_EXTENSIONS.test(n))) return { top: '', names };
  return { top, names: stripped };
}

/** Files that operating systems and archivers add to zips; never data. */
function isArchiveJunk(name: string): boolean {
  return name.split('/').some((p) => p === '__MACOSX' || p === '.DS_Store');
}

export class ZipSource implements FileSource {
  readonly description: string;
  private readonly entries = new Map<string, ZipEntry>();
  /** Bytes inflated out of this archive so far, against LIMITS.inflatedArchiveBytes. */
  private inflated = 0;

  /** Reads the archive's directory; throws an IoError naming `name` when it is not a zip. */
  constructor(
    private readonly bytes: Uint8Array,
    readonly name: string,
  ) {
    this.description = `zip ${name}`;
    const all = parseCentralDirectory(bytes, name).filter((e) => !isArchiveJunk(e.name));
    const { names } = stripSharedTop(all.map((e) => e.name));
    all.forEach((e, i) => {
      let rel: string;
      try {
        rel = safeRelativePath(names[i], this.description);
      } catch {
        return; // "../x" and absolute names are never read
      }
      this.entries.set(rel, e);
    });
  }

  private entry(file: string): { rel: string; e: ZipEntry } {
    const rel = safeRelativePath(file, this.description);
    const e = this.entries.get(rel);
    if (!e) throw new IoError('not-found', `${rel} is not in ${this.description}.`, rel);
    return { rel, e };
  }

  async readBytes(file: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const { rel, e } = this.entry(file);
    throwIfAborted(options.signal, rel, this.description);
    const damaged = (what: string, cause?: unknown) =>
      new IoError('format', `${rel} in ${this.description} is damaged (${what}); the rest of the archive is still read. Create the zip again to include it.`, rel, cause ? { cause } : undefined);
    if (e.flags & 1) throw new IoError('unsupported', `${rel} in ${this.description} is encrypted; Rankscope cannot read password-protected zips. Create the zip again without a password.`, rel);
    if (e.method !== 0 && e.method !== 8) {
      throw new IoError(
        'unsupported',
        `${rel} in ${this.description} is compressed with ${METHOD_NAMES[e.method] ?? `method ${e.method}`}, which Rankscope cannot read. Create the zip again with ordinary (Deflate) compression.`,
        rel,
      );
    }
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const h = e.localOffset;
    if (h + 30 > this.bytes.length || view.getUint32(h, true) !== 0x04034b50) throw damaged('its local header is missing');
    const start = h + 30 + view.getUint16(h + 26, true) + view.getUint16(h + 28, true);
    if (start + e.compressedSize > this.bytes.length) throw damaged('its data runs past the end of the archive');
    const raw = this.bytes.subarray(start, start + e.compressedSize);
    let out: Uint8Array;
    if (e.method === 0) out = raw.slice();
    else {
      // Refused before inflating anything: a declared size over the limit, or an archive that
      // has already given out its budget.
      const where = `${rel} in ${this.description}`;
      if (e.size > LIMITS.inflatedFileBytes) throw inflateTooLarge(where, LIMITS.inflatedFileBytes);
      if (this.inflated + e.size > LIMITS.inflatedArchiveBytes) {
        throw new IoError(
          'format',
          `${this.description} unpacks to more than ${formatBytes(LIMITS.inflatedArchiveBytes)} in all, so Rankscope stopped at ${rel}. Unpack it yourself and load the folder.`,
          rel,
        );
      }
      // The stream stops at the declared size: data that inflates past it is not what the directory says.
      try {
        out = inflateBounded(raw, { file: where, limit: e.size });
      } catch (err) {
        throw damaged(`its compressed data does not inflate to the ${e.size} bytes its directory entry says (${(err as Error).message})`, err);
      }
      this.inflated += out.length;
    }
    if (out.length !== e.size) throw damaged(`it holds ${out.length} bytes where the directory says ${e.size}`);
    if (crc32(out) !== e.crc) throw damaged('its CRC-32 checksum does not match');
    options.onProgress?.({ file: rel, loaded: out.length, total: out.length });
    return out;
  }

  async readText(file: string, options?: ReadOptions): Promise<string> {
    return utf8.decode(await this.readBytes(file, options));
  }

  async exists(file: string): Promise<boolean> {
    return this.entries.has(safeRelativePath(file, this.description));
  }

  async list(): Promise<string[]> {
    return [...this.entries.keys()].sort();
  }
}
