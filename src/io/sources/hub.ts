/**
 * Files of a Hugging Face Hub model, fetched through the Hub's resolve URLs
 * (`${endpoint}/${repoId}/resolve/${revision}/${file}`) and kept in a BlobCache, so a model
 * downloaded once loads again without network. The endpoint is configurable for mirrors and for
 * the tests' local server.
 *
 * A cached file is trusted as is: a branch such as `main` that moves on the Hub is not
 * re-checked. Clearing the model from the cache fetches it anew.
 */
import type { BlobCache } from '../cache/blobCache';
import { readBodyResuming } from '../download';
import { matchesEtag, parseEtag, type ContentHash } from '../etag';
import { IoError, abortedError, isAbortError, throwIfAborted } from '../errors';
import { safeRelativePath, utf8, type FileSource, type ReadOptions } from '../source';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export interface HubOptions {
  /** Default https://huggingface.co. */
  endpoint?: string;
  /** Branch, tag or commit; default 'main'. */
  revision?: string;
  /** A Hub access token, needed for gated or private models. Sent as a Bearer token. */
  token?: string;
  /** Where downloads are kept; null for none. */
  cache?: BlobCache | null;
  /** For tests and custom transports; default the global fetch. */
  fetch?: typeof fetch;
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

export function checkRepoId(repoId: string): string {
  const id = repoId.trim();
  if (!REPO_ID.test(id) || id.includes('..')) {
    throw new IoError(
      'format',
      `"${repoId}" is not a Hugging Face model id. Write it as owner/name, for example google/vit-base-patch16-224.`,
    );
  }
  return id;
}

function encodePath(file: string): string {
  return file.split('/').map(encodeURIComponent).join('/');
}

export function hubFileUrl(repoId: string, file: string, options: { endpoint?: string; revision?: string } = {}): string {
  const endpoint = (options.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(options.revision ?? 'main')}/${encodePath(file)}`;
}

/** The model-info API, whose `siblings` list the repo's files. */
export function hubModelInfoUrl(repoId: string, options: { endpoint?: string; revision?: string } = {}): string {
  const endpoint = (options.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  return `${endpoint}/api/models/${repoId}/revision/${encodeURIComponent(options.revision ?? 'main')}`;
}

/**
 * Cache keys look like 'models--google--vit-base-patch16-224/main/config.json': the first
 * segment is unambiguous for one-part ids such as 'gpt2', and a revision with '/' stays one segment.
 */
export function hubCachePrefix(repoId: string, revision?: string): string {
  const head = `models--${repoId.replace('/', '--')}/`;
  return revision === undefined ? head : `${head}${encodeURIComponent(revision)}/`;
}

export interface CachedHubModel {
  repoId: string;
  revision: string;
  files: { file: string; size: number; storedAt: number }[];
  bytes: number;
}

/** Groups a cache's entries by model and revision, for a "downloaded models" list. */
export async function listCachedHubModels(cache: BlobCache): Promise<CachedHubModel[]> {
  const byModel = new Map<string, CachedHubModel>();
  for (const e of await cache.list('models--')) {
    if (e.key.endsWith(ETAG_SUFFIX)) continue;
    const [head, rev, ...rest] = e.key.split('/');
    if (!rev || rest.length === 0) continue;
    const repoId = head.slice('models--'.length).replace('--', '/');
    const revision = decodeURIComponent(rev);
    const id = `${repoId}@${revision}`;
    let m = byModel.get(id);
    if (!m) byModel.set(id, (m = { repoId, revision, files: [], bytes: 0 }));
    m.files.push({ file: rest.join('/'), size: e.size, storedAt: e.storedAt });
    m.bytes += e.size;
  }
  return [...byModel.values()];
}

/** Removes one model (every revision, or one) from the cache; returns how many files went. */
export async function clearCachedHubModel(cache: BlobCache, repoId: string, revision?: string): Promise<number> {
  const prefix = hubCachePrefix(checkRepoId(repoId), revision);
  // Counted as a person sees them: files, not the hashes kept beside them.
  const files = (await cache.list(prefix)).filter((e) => !e.key.endsWith(ETAG_SUFFIX)).length;
  await cache.clear(prefix);
  return files;
}

/** Beside each cached file, the content hash its ETag promised (see etag.ts). */
export const ETAG_SUFFIX = '#etag';

export class HubSource implements FileSource {
  readonly repoId: string;
  readonly endpoint: string;
  readonly revision: string;
  readonly description: string;
  private readonly cache: BlobCache | null;
  private readonly token: string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(repoId: string, options: HubOptions = {}) {
    this.repoId = checkRepoId(repoId);
    this.endpoint = (options.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
    this.revision = options.revision ?? 'main';
    this.cache = options.cache ?? null;
    this.token = options.token;
    this.fetchFn = options.fetch ?? ((...args) => fetch(...args));
    this.description = `Hugging Face model ${this.repoId}${this.revision === 'main' ? '' : `@${this.revision}`}`;
  }

  private key(file: string): string {
    return hubCachePrefix(this.repoId, this.revision) + file;
  }

  private headers(): HeadersInit {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  private async request(url: string, file: string, method: 'GET' | 'HEAD', signal?: AbortSignal, extra: Record<string, string> = {}): Promise<Response> {
    throwIfAborted(signal, file, this.description);
    try {
      return await this.fetchFn(url, { method, headers: { ...this.headers(), ...extra }, signal, redirect: 'follow' });
    } catch (e) {
      if (signal?.aborted || isAbortError(e)) throw abortedError(file, this.description);
      throw new IoError(
        'network',
        `Could not reach ${this.endpoint} to fetch ${file} of ${this.repoId} (${(e as Error).message}). ` +
          'Check the internet connection and the Hub endpoint setting; models already in the cache load without network.',
        file,
        { cause: e },
      );
    }
  }

  /** Turns a refusal into a message that says what to do; the Hub's X-Error-Code header tells the cases apart. */
  private httpError(res: Response, file: string, url: string): IoError {
    const code = res.headers.get('x-error-code');
    const where = `${this.repoId} (revision ${this.revision})`;
    if (res.status === 401 || res.status === 403 || code === 'GatedRepo') {
      const gated = code === 'GatedRepo';
      return new IoError(
        'unauthorized',
        `The Hub refused ${file} of ${where} (HTTP ${res.status}). ` +
          (gated
            ? 'The model is gated: accept its terms on its page at huggingface.co, then give Rankscope an access token.'
            : res.status === 401
              ? 'The model is gated or private, or the id does not exist (the Hub answers 401 for models it will not show). Check the id; if it is gated or private, give Rankscope an access token from an account that can see it.'
              : 'The model is gated or private and this token cannot read it: accept its terms on its page at huggingface.co, or use a token with read access.'),
        file,
      );
    }
    if (res.status === 404) {
      const what =
        code === 'RepoNotFound'
          ? `No model ${this.repoId} exists on ${this.endpoint}. Check the model id (owner/name, as on its Hub page).`
          : code === 'RevisionNotFound'
            ? `${this.repoId} has no revision "${this.revision}". Check the branch, tag or commit.`
            : `${file} was not found in ${where} (${url}). Check the model id and revision; the model may not have this file.`;
      return new IoError('not-found', what, file);
    }
    return new IoError(
      'http',
      `The Hub answered HTTP ${res.status} ${res.statusText} for ${file} of ${where} (${url}). Try again later; if it persists, check the endpoint setting.`,
      file,
    );
  }

  /** The cached copy, unless its recorded content hash says it was truncated or corrupted (then it is dropped). */
  private async cached(key: string, rel: string): Promise<Uint8Array | undefined> {
    const hit = await this.cache?.get(key);
    if (!hit || !this.cache) return hit;
    const recorded = await this.cache.get(key + ETAG_SUFFIX);
    const expected = recorded ? parseEtag(utf8.decode(recorded)) : undefined;
    if (!expected || (await matchesEtag(hit, expected))) return hit;
    console.warn(`Rankscope: the cached ${rel} of ${this.repoId} does not match its ${expected.kind} ${expected.hex}; downloading it again.`);
    await this.cache.delete(key);
    await this.cache.delete(key + ETAG_SUFFIX);
    return undefined;
  }

  async readBytes(file: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const rel = safeRelativePath(file, this.description);
    const key = this.key(rel);
    throwIfAborted(options.signal, rel, this.description);
    const hit = await this.cached(key, rel);
    if (hit) {
      options.onProgress?.({ file: rel, loaded: hit.length, total: hit.length, cached: true });
      return hit;
    }
    const url = hubFileUrl(this.repoId, rel, { endpoint: this.endpoint, revision: this.revision });
    const res = await this.request(url, rel, 'GET', options.signal);
    if (!res.ok) {
      void res.body?.cancel().catch(() => {});
      throw this.httpError(res, rel, url);
    }
    // A dropped connection continues from where it stopped (Range), so a large checkpoint is not fetched from the start again.
    const reopen = (from: number, ifRange: string | undefined) =>
      this.request(url, rel, 'GET', options.signal, { range: `bytes=${from}-`, ...(ifRange ? { 'if-range': ifRange } : {}) });
    const { bytes, etag } = await readBodyResuming(res, reopen, rel, this.description, options);
    const expected: ContentHash | undefined = parseEtag(res.headers.get('x-linked-etag') ?? etag);
    if (expected && !(await matchesEtag(bytes, expected))) {
      throw new IoError(
        'network',
        `The download of ${rel} from ${this.description} does not match the ${expected.kind} the Hub gives for it (${expected.hex}): it arrived damaged. Load the model again.`,
        rel,
      );
    }
    if (this.cache) {
      try {
        await this.cache.put(key, bytes);
        if (expected) await this.cache.put(key + ETAG_SUFFIX, new TextEncoder().encode(expected.hex));
      } catch (e) {
        // A full disk or quota must not fail a load that already succeeded; it only costs a re-download.
        console.warn(`Rankscope could not cache ${rel} of ${this.repoId} in ${this.cache.description}: ${(e as Error).message}`);
      }
    }
    return bytes;
  }

  async readText(file: string, options?: ReadOptions): Promise<string> {
    return utf8.decode(await this.readBytes(file, options));
  }

  async exists(file: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const rel = safeRelativePath(file, this.description);
    if (await this.cache?.has(this.key(rel))) return true;
    const url = hubFileUrl(this.repoId, rel, { endpoint: this.endpoint, revision: this.revision });
    const res = await this.request(url, rel, 'HEAD', options.signal);
    if (res.ok) return true;
    if (res.status === 404 && res.headers.get('x-error-code') !== 'RepoNotFound') return false;
    throw this.httpError(res, rel, url);
  }

  private async cachedNames(): Promise<string[]> {
    if (!this.cache) return [];
    const prefix = hubCachePrefix(this.repoId, this.revision);
    return (await this.cache.list(prefix)).filter((c) => !c.key.endsWith(ETAG_SUFFIX)).map((c) => c.key.slice(prefix.length));
  }

  /**
   * The repo's files from the model-info API; where the endpoint has no such API (a plain
   * mirror), null, and callers probe with `exists`. When a whole model is already cached
   * (config.json and its weights entry), the cached names, without network; offline, whatever
   * of the model is cached.
   */
  async list(options: { signal?: AbortSignal } = {}): Promise<string[] | null> {
    const cached = await this.cachedNames();
    if (cached.includes('config.json') && (cached.includes('model.safetensors') || cached.includes('model.safetensors.index.json'))) return cached;
    const url = hubModelInfoUrl(this.repoId, { endpoint: this.endpoint, revision: this.revision });
    let res: Response;
    try {
      res = await this.request(url, 'model info', 'GET', options.signal);
    } catch (e) {
      if (e instanceof IoError && e.code === 'network' && cached.length > 0) return cached;
      throw e;
    }
    if (res.status === 401 || res.status === 403) throw this.httpError(res, 'model info', url);
    if (res.status === 404 && res.headers.get('x-error-code') === 'RepoNotFound') throw this.httpError(res, 'model info', url);
    if (!res.ok) {
      void res.body?.cancel().catch(() => {});
      return null;
    }
    try {
      const info = (await res.json()) as { siblings?: { rfilename?: unknown }[] };
      if (!Array.isArray(info.siblings)) return null;
      return info.siblings.map((s) => s.rfilename).filter((f): f is string => typeof f === 'string');
    } catch {
      return null;
    }
  }
}
