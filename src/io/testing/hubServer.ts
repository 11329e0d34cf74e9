/**
 * A stand-in for the Hugging Face Hub on 127.0.0.1 with an ephemeral port, serving a folder
 * laid out as <root>/<owner>/<name>/<files> under the Hub's URL layout:
 *   GET|HEAD /<owner>/<name>/resolve/<revision>/<file>
 *   GET      /api/models/<owner>/<name>/revision/<revision>   ({ siblings: [{ rfilename }] })
 * with the Hub's status codes and X-Error-Code headers, ETags as the Hub sends them (SHA-256 of
 * LFS files, git blob SHA-1 of the rest), Range requests, optional gating, slow streaming (to test
 * progress and cancel), faults (a connection dropped mid-file, a corrupted body) and a request
 * log. Node only; for tests and e2e.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface HubServerOptions {
  root: string;
  /** Repo ids that answer 401 with X-Error-Code: GatedRepo unless this token is sent. */
  gated?: Map<string, string>;
  /** Files (by '<owner>/<name>/<file>') streamed slowly: `bytesPerTick` every `tickMs`. */
  slow?: Map<string, { bytesPerTick: number; tickMs: number }>;
  /** Files (by '<owner>/<name>/<file>') whose next `times` GETs (whole or ranged) drop the connection after `bytes` bytes. */
  dropAfter?: Map<string, { bytes: number; times: number }>;
  /** Files served with one byte flipped (under the intact file's ETag), the next `times` times. */
  corrupt?: Map<string, { times: number }>;
  /** Answer Range requests with the whole file (200), as servers without range support do. */
  ignoreRange?: boolean;
}

export interface HubServer {
  endpoint: string;
  /** Every request as 'METHOD /path'. */
  log: string[];
  close(): Promise<void>;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)).split(sep).join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

export async function startHubServer(options: HubServerOptions): Promise<HubServer> {
  const log: string[] = [];
  const timers = new Set<ReturnType<typeof setInterval>>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = decodeURIComponent(url.pathname);
    log.push(`${req.method} ${path}`);
    const fail = (status: number, code: string, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code });
      res.end(JSON.stringify({ error: message }));
    };
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(path);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const repo = api?.[1] ?? resolve?.[1];
    if (!repo) return fail(404, 'NotFound', 'no such route');
    const repoDir = join(options.root, ...repo.split('/'));
    if (!(await isDir(repoDir))) return fail(401, 'RepoNotFound', 'Repository not found');
    const gate = options.gated?.get(repo);
    if (gate !== undefined && req.headers.authorization !== `Bearer ${gate}`) {
      return fail(req.headers.authorization ? 403 : 401, 'GatedRepo', 'Access to this model is restricted');
    }
    const revision = api?.[2] ?? resolve?.[2];
    if (revision !== 'main') return fail(404, 'RevisionNotFound', 'Invalid rev id');
    if (api) {
      const files = await listFiles(repoDir);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: repo, siblings: files.map((rfilename) => ({ rfilename })) }));
      return;
    }
    const file = resolve![3];
    if (file.split('/').some((p) => p === '..')) return fail(400, 'BadRequest', 'bad path');
    let body: Buffer;
    try {
      body = await readFile(join(repoDir, ...file.split('/')));
    } catch {
      return fail(404, 'EntryNotFound', `${file} does not exist`);
    }
    const key = `${repo}/${file}`;
    // The Hub's ETag: SHA-256 for LFS files (weights), the git blob SHA-1 for files kept in git.
    const etag = file.endsWith('.safetensors')
      ? createHash('sha256').update(body).digest('hex')
      : createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex');
    const headers = { 'content-type': 'application/octet-stream', etag: `"${etag}"`, 'accept-ranges': 'bytes' };
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    const ifRange = req.headers['if-range'];
    let payload: Buffer = body;
    if (range && !options.ignoreRange && (!ifRange || ifRange === `"${etag}"`) && Number(range[1]) < body.length) {
      const from = Number(range[1]);
      payload = body.subarray(from);
      res.writeHead(206, { ...headers, 'content-length': String(payload.length), 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` });
    } else {
      res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    }
    if (req.method === 'HEAD') return res.end();
    const drop = options.dropAfter?.get(key);
    if (drop && drop.times > 0 && payload.length > drop.bytes) {
      drop.times--;
      res.write(payload.subarray(0, drop.bytes), () => res.destroy());
      return;
    }
    const corrupt = options.corrupt?.get(key);
    if (corrupt && corrupt.times > 0) {
      corrupt.times--;
      const bad = Buffer.from(payload);
      bad[bad.length >> 1] ^= 0xff;
      return res.end(bad);
    }
    if (payload !== body) return res.end(payload);
    const slow = options.slow?.get(`${repo}/${file}`);
    if (!slow) return res.end(body);
    let pos = 0;
    const timer = setInterval(() => {
      if (res.destroyed) {
        clearInterval(timer);
        timers.delete(timer);
        return;
      }
      const next = Math.min(body.length, pos + slow.bytesPerTick);
      res.write(body.subarray(pos, next));
      pos = next;
      if (pos >= body.length) {
        clearInterval(timer);
        timers.delete(timer);
        res.end();
      }
    }, slow.tickMs);
    timers.add(timer);
    res.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((ok) => {
        for (const t of timers) clearInterval(t);
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
