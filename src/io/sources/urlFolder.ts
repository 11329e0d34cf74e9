import { readBody } from '../download';
import { IoError, throwIfAborted } from '../errors';
import { safeRelativePath, utf8, type FileSource, type ReadOptions } from '../source';

/**
 * Files under a base URL (a folder the app serves from public/, such as the demo model), read with
 * fetch. It cannot list a folder by itself, so the caller may name the files it holds.
 */
export class UrlFolderSource implements FileSource {
  readonly description: string;
  private readonly base: string;

  constructor(
    base: string,
    private readonly files: readonly string[] | null = null,
    private readonly fetchImpl: typeof fetch = (...a) => fetch(...a),
  ) {
    this.base = base.endsWith('/') ? base : `${base}/`;
    this.description = `folder ${this.base}`;
  }

  private url(file: string): string {
    return this.base + safeRelativePath(file, this.description).split('/').map(encodeURIComponent).join('/');
  }

  async readBytes(file: string, options: ReadOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal, file, this.description);
    let res: Response;
    try {
      res = await this.fetchImpl(this.url(file), { signal: options.signal });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new IoError('network', `${file} could not be fetched from ${this.description}: ${(e as Error).message}.`, file, { cause: e });
    }
    if (res.status === 404) throw new IoError('not-found', `${file} was not found in ${this.description}.`, file);
    if (!res.ok) throw new IoError('http', `${file} from ${this.description} failed with HTTP ${res.status}.`, file);
    return readBody(res, file, this.description, options);
  }

  async readText(file: string, options?: ReadOptions): Promise<string> {
    return utf8.decode(await this.readBytes(file, options));
  }

  async exists(file: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (this.files) return this.files.includes(file);
    const res = await this.fetchImpl(this.url(file), { method: 'HEAD', signal: options.signal }).catch(() => undefined);
    return !!res?.ok;
  }

  async list(): Promise<string[] | null> {
    return this.files ? [...this.files] : null;
  }
}
