/**
 * A FileSource that fingerprints what is read through it: the SHA-256 of every file a loader
 * reads, combined into one digest. Wrapping the source of a model or data set gives the
 * "which files exactly" record that a run file carries, without a second read and without the
 * loaders knowing about it.
 *
 * Where the inner source identifies files cheaply (name, size and modification time: dropped
 * files and folders on disk, which the image cache keys on), that identity stands for the file
 * instead of its content hash, so a data set reopened from the image cache, whose files are not
 * read again, keeps the fingerprint of its first load.
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
  private readonly identities = new Map<string, string>();

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

  /** The inner source's cheap identity of one file (FileSource.fingerprint), remembered for setFingerprint. */
  async fingerprint(file: string): Promise<string | null> {
    const id = (await this.inner.fingerprint?.(file)) ?? null;
    if (id !== null) this.identities.set(file, id);
    return id;
  }

  /** The fingerprint of every file read (or identified) so far. */
  async setFingerprint(): Promise<Fingerprint> {
    const files = new Set([...this.digests.keys(), ...this.identities.keys()]);
    const entries = await Promise.all(
      [...files].map(async (file) => {
        const id = this.identities.get(file);
        const d = await this.digests.get(file);
        return id !== undefined
          ? { file, sha256: await sha256Hex(new TextEncoder().encode(id)), bytes: d?.bytes ?? 0 }
          : { file, sha256: d!.sha256, bytes: d!.bytes };
      }),
    );
    entries.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const listing = entries.map((e) => `${e.sha256}  ${e.file}\n`).join('');
    return { sha256: await sha256Hex(new TextEncoder().encode(listing)), files: entries.length, bytes: entries.reduce((a, e) => a + e.bytes, 0) };
  }
}
