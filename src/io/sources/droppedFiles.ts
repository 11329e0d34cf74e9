/**
 * Files a person dropped on the page or picked with <input webkitdirectory>. Each File carries
 * its path in `webkitRelativePath` ('vit-tiny/config.json'); the shared top folder is removed so
 * names match the other sources ('config.json'). Callers that walk drag-and-drop entries
 * themselves pass explicit paths instead. No Node modules here: this is bundled for the page.
 */
import { IoError, throwIfAborted } from '../errors';
import { safeRelativePath, utf8, type FileSource, type ReadOptions } from '../source';

export interface DroppedFile {
  file: Blob;
  /** Relative path including folders; defaults to webkitRelativePath, then the file's name. */
  path?: string;
}

function pathOf(f: Blob | DroppedFile): { file: Blob; path: string } {
  if ('file' in f && f.file instanceof Blob) {
    const d = f as DroppedFile;
    return { file: d.file, path: d.path ?? pathOf(d.file).path };
  }
  const file = f as File;
  return { file, path: file.webkitRelativePath || file.name || 'unnamed' };
}

export class DroppedFilesSource implements FileSource {
  readonly description: string;
  private readonly files = new Map<string, Blob>();

  constructor(files: Iterable<Blob | DroppedFile>, name?: string) {
    const items = [...files].map(pathOf).map((x) => ({ ...x, path: x.path.replace(/\\/g, '/').replace(/^\/+/, '') }));
    // Strip the dropped folder's own name when every file shares it.
    const tops = new Set(items.map((x) => (x.path.includes('/') ? x.path.slice(0, x.path.indexOf('/')) : '')));
    const top = tops.size === 1 ? [...tops][0] : '';
    for (const x of items) {
      const rel = top ? x.path.slice(top.length + 1) : x.path;
      this.files.set(safeRelativePath(rel, 'the dropped files'), x.file);
    }
    this.description = `dropped folder ${name ?? (top || `(${this.files.size} files)`)}`;
  }

  private get(file: string): { rel: string; blob: Blob } {
    const rel = safeRelativePath(file, this.description);
    const blob = this.files.get(rel);
    if (!blob) {
      throw new IoError('not-found', `${rel} is not among the ${this.description}. Drop the whole folder that contains it.`, rel);
    }
    return { rel, blob };
  }

  async fingerprint(file: string): Promise<string | null> {
    const { rel, blob } = this.get(file);
    const modified = (blob as Partial<File>).lastModified;
    return typeof modified === 'number' ? `${rel}|${blob.size}|${modified}` : null;
  }

  async readBytes(file: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const { rel, blob } = this.get(file);
    throwIfAborted(options.signal, rel, this.description);
    const total = blob.size;
    options.onProgress?.({ file: rel, loaded: 0, total });
    // Blob.stream() rather than arrayBuffer(): reading a large local file still takes seconds,
    // and a stream can report progress and stop on cancel.
    const reader = blob.stream().getReader();
    const out = new Uint8Array(total);
    let loaded = 0;
    try {
      for (;;) {
        throwIfAborted(options.signal, rel, this.description);
        const { done, value } = await reader.read();
        if (done) break;
        out.set(value.subarray(0, Math.max(0, total - loaded)), loaded);
        loaded += value.length;
        options.onProgress?.({ file: rel, loaded: Math.min(loaded, total), total });
      }
    } catch (e) {
      void reader.cancel().catch(() => {});
      if (e instanceof IoError) throw e;
      throw new IoError('http', `${rel} in the ${this.description} could not be read (${(e as Error).message}). The file may have been moved or changed since it was dropped: drop it again.`, rel, { cause: e });
    }
    return out;
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
