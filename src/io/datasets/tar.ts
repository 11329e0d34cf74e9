/**
 * A (gzipped) tar archive as a FileSource: CIFAR-10 and CIFAR-100 are distributed as
 * cifar-10-binary.tar.gz and cifar-100-binary.tar.gz, and people drop what they downloaded.
 * The archive is gunzipped once (fflate) and its 512-byte headers walked; ustar prefixes, GNU
 * long names and pax path records are understood. No Node modules.
 */
import { IoError } from '../errors';
import { MemorySource } from '../sources/memory';
import { safeRelativePath, utf8 } from '../source';
import { maybeGunzip } from './idx';
import { LIMITS } from '../limits';

/** True for a gzip stream, or a tar whose first header carries the ustar magic. */
export function looksLikeTar(bytes: Uint8Array): boolean {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return true;
  return bytes.length >= 263 && utf8.decode(bytes.subarray(257, 262)) === 'ustar';
}

function field(b: Uint8Array, at: number, len: number): string {
  const s = b.subarray(at, at + len);
  const nul = s.indexOf(0);
  return utf8.decode(nul < 0 ? s : s.subarray(0, nul));
}

function octal(b: Uint8Array, at: number, len: number): number {
  // Base-256 (GNU) for sizes of 8 GiB and more: first byte 0x80.
  if (b[at] & 0x80) {
    let v = 0;
    for (let i = 1; i < len; i++) v = v * 256 + b[at + i];
    return v;
  }
  const s = field(b, at, len).trim();
  return s ? parseInt(s, 8) : 0;
}

/** The files of a (gzipped) tar archive, top folder stripped, unsafe and macOS metadata names dropped. */
function tarEntries(input: Uint8Array, name: string): Array<[string, Uint8Array]> {
  const description = `archive ${name}`;
  // A tar.gz unpacks as one stream: the whole archive's budget applies to it.
  const bytes = maybeGunzip(input, name, LIMITS.inflatedArchiveBytes);
  const bad = (what: string) =>
    new IoError('format', `${name} is not a readable tar archive: ${what}. Download it again, or unpack it and drop the folder.`, name);
  let p = 0;
  let longName: string | undefined;
  const all: Array<[string, Uint8Array]> = [];
  while (p + 512 <= bytes.length) {
    const h = bytes.subarray(p, p + 512);
    if (h.every((x) => x === 0)) break; // end of archive
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== octal(h, 148, 8)) throw bad(`the header at byte ${p} has a wrong checksum`);
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 48);
    const dataStart = p + 512;
    if (dataStart + size > bytes.length) throw bad(`${field(h, 0, 100)} runs past the end (truncated at ${bytes.length} bytes)`);
    const data = bytes.subarray(dataStart, dataStart + size);
    let entryName = field(h, 0, 100);
    const prefix = utf8.decode(h.subarray(257, 262)) === 'ustar' ? field(h, 345, 155) : '';
    if (prefix) entryName = `${prefix}/${entryName}`;
    if (type === 'L') longName = field(data, 0, data.length);
    else if (type === 'x') {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(utf8.decode(data));
      if (m) longName = m[1];
    } else if (type === '0' || type === '7') {
      all.push([longName ?? entryName, data]);
      longName = undefined;
    } else longName = undefined;
    p = dataStart + Math.ceil(size / 512) * 512;
  }
  // A partial header at the end is a file cut short, not an archive that ends there.
  if (p < bytes.length && p + 512 > bytes.length) throw bad(`it ends inside the header at byte ${p} (truncated at ${bytes.length} bytes)`);
  // Strip a top folder every entry shares ("cifar-10-batches-bin/data_batch_1.bin").
  const tops = new Set(all.map(([n]) => (n.includes('/') ? n.slice(0, n.indexOf('/')) : '')));
  const top = tops.size === 1 ? [...tops][0] : '';
  const out: Array<[string, Uint8Array]> = [];
  for (const [n, data] of all) {
    const rel = top ? n.slice(top.length + 1) : n;
    if (rel.split('/').some((part) => part.startsWith('._') || part === '.DS_Store')) continue;
    try {
      out.push([safeRelativePath(rel, description), data]);
    } catch {
      // "../x" and absolute names are never read.
    }
  }
  return out;
}

/** A tar or .tar.gz archive read like a folder (CIFAR's downloads are .tar.gz). */
export class TarSource extends MemorySource {
  constructor(
    input: Uint8Array,
    readonly name: string,
  ) {
    super(tarEntries(input, name), `archive ${name}`);
  }
}
