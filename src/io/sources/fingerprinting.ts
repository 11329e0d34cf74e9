/**
 * A FileSource that fingerprints what is read through it: the SHA-256 of every file a loader
 * reads, combined into one digest. Wrapping the source of a model or data set gives the
 * "which files exactly" record that a run file carries, without a second read and without the
 * loaders knowing about it.
 */
import type { FileSource, ReadOptions } from '../source';

export interface Fingerprint {
  /** SHA-256 (hex) of the sorted lines "<sha256 of file>  <file name>\n", as `sha256sum` prints them. */
  sha256: string;
  files: number;
  bytes: number;
}

const hex = (buf: ArrayBuffer): string => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

export class FingerprintingSource implements FileSource {
  private readonly digests = new Map<string, Promise<{ sha256: string; bytes: number }>>();

  constructor(private readonly inner: FileSource) {}

  get description(): string {
    return this.inner.description;
  }

  private record(file: string, bytes: Uint8Array): void {
    if (!this.digests.has(file)) this.digests.set(file, sha256Hex(bytes).then((sha256) => ({ sha256, bytes: bytes.byteLength })));
  }

  async readBytes(file: string, options?: ReadOptions): Promise<Uint8Array> {
    const bytes = await this.inner.readBytes(file, options);
    this.record(file, bytes);
    return bytes;
  }

  async readText(file: string, options?: ReadOptions): Promise<string> {
    const text = await this.inner.readText(file, options);
    this.record(file, new TextEncoder().encode(text));
    return text;
  }

  exists(file: string, options?: { signal?: AbortSignal }): Promise<boolean> {
    return this.inner.exists(file, options);
  }

  list(options?: { signal?: AbortSignal }): Promise<string[] | null> {
    return this.inner.list(options);
  }

  /** The fingerprint of every file read so far. */
  async fingerprint(): Promise<Fingerprint> {
    const entries = await Promise.all([...this.digests].map(async ([file, d]) => ({ file, ...(await d) })));
    entries.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const listing = entries.map((e) => `${e.sha256}  ${e.file}\n`).join('');
    return { sha256: await sha256Hex(new TextEncoder().encode(listing)), files: entries.length, bytes: entries.reduce((a, e) => a + e.bytes, 0) };
  }
}
