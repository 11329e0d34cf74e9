/**
 * The download cache under Node: one plain file per key inside a directory, so a person can also
 * inspect or delete it with ordinary tools. Default: $XDG_CACHE_HOME/rankscope/hub, else
 * ~/.cache/rankscope/hub.
 */
import { mkdir, readFile, readdir, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { cacheKeyParts, type BlobCache, type CacheEntry } from './blobCache';

/** Files being written live here until complete, then are renamed into place (atomic on one filesystem). */
const TMP = '.tmp';

export function defaultHubCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'rankscope', 'hub');
}

export class NodeFsBlobCache implements BlobCache {
  readonly description: string;
  constructor(readonly dir: string = defaultHubCacheDir()) {
    this.description = `folder ${dir}`;
  }

  private pathOf(key: string): string {
    const parts = cacheKeyParts(key);
    if (parts[0] === TMP) throw new Error(`Cache key "${key}" may not start with ${TMP}.`);
    return join(this.dir, ...parts);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const buf = await readFile(this.pathOf(key));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
      throw e;
    }
  }

  async has(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch {
      return false;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const target = this.pathOf(key);
    const tmpDir = join(this.dir, TMP);
    await mkdir(tmpDir, { recursive: true });
    await mkdir(join(target, '..'), { recursive: true });
    const tmp = join(tmpDir, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async list(prefix = ''): Promise<CacheEntry[]> {
    const out: CacheEntry[] = [];
    const walk = async (dir: string, rel: string[]): Promise<void> => {
      let names;
      try {
        names = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const d of names) {
        if (rel.length === 0 && d.name === TMP) continue;
        const p = join(dir, d.name);
        if (d.isDirectory()) await walk(p, [...rel, d.name]);
        else if (d.isFile()) {
          const key = [...rel, d.name].join('/');
          if (!key.startsWith(prefix)) continue;
          const s = await stat(p);
          out.push({ key, size: s.size, storedAt: s.mtimeMs });
        }
      }
    };
    await walk(this.dir, []);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<boolean> {
    try {
      await unlink(this.pathOf(key));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  async clear(prefix = ''): Promise<number> {
    const entries = await this.list(prefix);
    for (const e of entries) await this.delete(e.key);
    if (prefix === '') await rm(join(this.dir, TMP), { recursive: true, force: true });
    await this.removeEmptyDirs(this.dir, true);
    return entries.length;
  }

  /** Leaves no empty org/model/revision folders behind after a clear. */
  private async removeEmptyDirs(dir: string, isRoot: boolean): Promise<boolean> {
    let names;
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    let empty = true;
    for (const d of names) {
      if (d.isDirectory() && !(isRoot && d.name === TMP) && (await this.removeEmptyDirs(join(dir, d.name), false))) continue;
      empty = false;
    }
    if (empty && !isRoot) {
      await rmdir(dir).catch(() => {});
      return true;
    }
    return false;
  }
}
