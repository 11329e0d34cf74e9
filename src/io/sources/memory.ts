/**
 * Files held in memory, by relative name: an unpacked zip, or an export before it is written.
 * Lets the loaders that take a FileSource (checkpoints, adapters) read them like a folder.
 */
import { IoError, throwIfAborted } from '../errors';
import { safeRelativePath, utf8, type FileSource, type ReadOptions } from '../source';

export class MemorySource implements FileSource {
  readonly description: string;
  private readonly files = new Map<string, Uint8Array>();

  constructor(files: Iterable<[string, Uint8Array]>, description = 'files in memory') {
    this.description = description;
    for (const [name, bytes] of files) this.files.set(safeRelativePath(name, description), bytes);
  }

  async readBytes(file: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const rel = safeRelativePath(file, this.description);
    throwIfAborted(options.signal, rel, this.description);
    const bytes = this.files.get(rel);
    if (!bytes) throw new IoError('not-found', `${rel} is not in ${this.description}.`, rel);
    options.onProgress?.({ file: rel, loaded: bytes.length, total: bytes.length });
    return bytes;
  }

  async readText(file: string, options?: ReadOptions): Promise<string> {
    return utf8.decode(await this.readBytes(file, options));
  }

  async exists(file: string): Promise<boolean> {
    return this.files.has(safeRelativePath(file, this.description));
  }

  async list(): Promise<string[]> {
    return [...this.files.keys()].sort();
  }
}
