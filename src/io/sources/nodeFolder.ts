/**
 * Files in a folder on disk, under Node (the command-line runner, tests, benchmarks). Reads in
 * chunks so large checkpoints report progress and can be cancelled like downloads.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { IoError, throwIfAborted } from '../errors';
import { safeRelativePath, utf8, type FileSource, type ReadOptions } from '../source';

const CHUNK = 8 << 20;

export class NodeFolderSource implements FileSource {
  readonly root: string;
  readonly description: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `folder ${this.root}`;
  }

  private pathOf(file: string): { rel: string; path: string } {
    const rel = safeRelativePath(file, this.description);
    return { rel, path: join(this.root, ...rel.split('/')) };
  }

  async readBytes(file: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const { rel, path } = this.pathOf(file);
    throwIfAborted(options.signal, rel, this.description);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new IoError('not-found', `${rel} was not found in ${this.description}. Check the path and that the folder holds this file.`, rel, { cause: e });
      }
      if (code === 'EACCES' || code === 'EPERM') {
        throw new IoError('unauthorized', `${rel} in ${this.description} cannot be read: permission denied. Check the file's permissions.`, rel, { cause: e });
      }
      throw new IoError('http', `${rel} in ${this.description} cannot be opened (${(e as Error).message}).`, rel, { cause: e });
    }
    try {
      const size = (await handle.stat()).size;
      const out = new Uint8Array(size);
      options.onProgress?.({ file: rel, loaded: 0, total: size });
      let loaded = 0;
      while (loaded < size) {
        throwIfAborted(options.signal, rel, this.description);
        const { bytesRead } = await handle.read(out, loaded, Math.min(CHUNK, size - loaded), loaded);
        if (bytesRead === 0) break;
        loaded += bytesRead;
        options.onProgress?.({ file: rel, loaded, total: size });
      }
      return loaded === size ? out : out.slice(0, loaded);
    } finally {
      await handle.close();
    }
  }

  async readText(file: string, options?: ReadOptions): Promise<string> {
    return utf8.decode(await this.readBytes(file, options));
  }

  async fingerprint(file: string): Promise<string | null> {
    const { rel, path } = this.pathOf(file);
    const s = await stat(path).catch(() => undefined);
    return s?.isFile() ? `${rel}|${s.size}|${Math.round(s.mtimeMs)}` : null;
  }

  async exists(file: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(file).path)).isFile();
    } catch (e) {
      if (e instanceof IoError) throw e;
      return false;
    }
  }

  async list(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true });
      for (const d of entries) {
        const rel = prefix ? `${prefix}/${d.name}` : d.name;
        if (d.isDirectory()) await walk(join(dir, d.name), rel);
        else if (d.isFile()) out.push(rel);
        else if (d.isSymbolicLink()) {
          // Data sets are often assembled from symlinks; follow them, but not into loops.
          const s = await stat(join(dir, d.name)).catch(() => undefined);
          if (s?.isFile()) out.push(rel);
          else if (s?.isDirectory() && prefix.split('/').length < 16) await walk(join(dir, d.name), rel);
        }
      }
    };
    try {
      await walk(this.root, '');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new IoError('not-found', `The folder ${this.root} does not exist. Check the path.`, undefined, { cause: e });
      }
      throw e;
    }
    return out.sort();
  }
}
