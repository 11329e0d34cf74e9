/**
 * Downloads that break off continue with Range requests, damaged bodies are refused by the Hub's
 * ETag, and a cached file that no longer matches its ETag is fetched again instead of loaded:
 * against the Hub stand-in on 127.0.0.1 with a dropped connection and a corrupted body.
 */
import { mkdtemp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeFsBlobCache } from './cache/nodeBlobCache';
import { contentHash, parseEtag } from './etag';
import { HubSource, listCachedHubModels } from './sources/hub';
import { startHubServer, type HubServer, type HubServerOptions } from './testing/hubServer';

const SIZE = 300_000;
const weights = Uint8Array.from({ length: SIZE }, (_, i) => (i * 31 + (i >> 8)) & 255);
const config = new TextEncoder().encode('{"model_type": "vit"}\n');
let server: HubServer | undefined;

async function serve(options: Omit<HubServerOptions, 'root'>): Promise<{ endpoint: string; log: string[]; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'rankscope-hubint-'));
  await mkdir(join(dir, 'org', 'model'), { recursive: true });
  await writeFile(join(dir, 'org', 'model', 'model.safetensors'), weights);
  await writeFile(join(dir, 'org', 'model', 'config.json'), config);
  server = await startHubServer({ root: dir, ...options });
  return { endpoint: server.endpoint, log: server.log, dir };
}

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('Hub downloads: resume and integrity', () => {
  it('reads the Hub ETags: SHA-256 of LFS files, git blob SHA-1 of the rest', async () => {
    expect(parseEtag('"' + 'a'.repeat(64) + '"')).toEqual({ kind: 'sha256', hex: 'a'.repeat(64) });
    expect(parseEtag('W/"' + 'B'.repeat(40) + '"')).toEqual({ kind: 'git-sha1', hex: 'b'.repeat(40) });
    expect(parseEtag('"abc-123"')).toBeUndefined();
    // git's own hash of "hello\n" (git hash-object).
    expect(await contentHash(new TextEncoder().encode('hello\n'), 'git-sha1')).toBe('ce013625030ba8dba906f756967f9e9ca394464a');
  });

  it('a connection dropped mid-file continues from the byte it stopped at', async () => {
    const { endpoint, log } = await serve({ dropAfter: new Map([['org/model/model.safetensors', { bytes: 100_000, times: 2 }]]) });
    const progress: number[] = [];
    const bytes = await new HubSource('org/model', { endpoint }).readBytes('model.safetensors', { onProgress: (p) => progress.push(p.loaded) });
    expect(bytes).toEqual(weights);
    // Two drops, each continued: three GETs, and no byte counted twice.
    expect(log.filter((l) => l.startsWith('GET /org/model/resolve/main/model.safetensors'))).toHaveLength(3);
    expect(progress.at(-1)).toBe(SIZE);
    expect(progress.every((v, i) => i === 0 || v >= progress[i - 1])).toBe(true);
  });

  it('a server without Range support sends the file again from the start', async () => {
    const { endpoint } = await serve({ ignoreRange: true, dropAfter: new Map([['org/model/model.safetensors', { bytes: 50_000, times: 1 }]]) });
    expect(await new HubSource('org/model', { endpoint }).readBytes('model.safetensors')).toEqual(weights);
  });

  it('gives up after repeated drops with a message naming the file', async () => {
    const { endpoint } = await serve({ dropAfter: new Map([['org/model/model.safetensors', { bytes: 1000, times: 99 }]]), ignoreRange: true });
    await expect(new HubSource('org/model', { endpoint }).readBytes('model.safetensors')).rejects.toThrow(/The download of model\.safetensors from Hugging Face model org\/model (broke off|ended) after/);
  });

  it('a corrupted body is refused by its ETag and never cached', async () => {
    const { endpoint } = await serve({ corrupt: new Map([['org/model/model.safetensors', { times: 1 }], ['org/model/config.json', { times: 1 }]]) });
    const cacheDir = await mkdtemp(join(tmpdir(), 'rankscope-hubcache-'));
    const hub = new HubSource('org/model', { endpoint, cache: new NodeFsBlobCache(cacheDir) });
    await expect(hub.readBytes('model.safetensors')).rejects.toThrow(/model\.safetensors from Hugging Face model org\/model does not match the sha256 the Hub gives for it .*arrived damaged/);
    await expect(hub.readBytes('config.json')).rejects.toThrow(/config\.json .* does not match the git-sha1/);
    expect(await listCachedHubModels(new NodeFsBlobCache(cacheDir))).toEqual([]);
    // The next try gets the intact files.
    expect(await hub.readBytes('model.safetensors')).toEqual(weights);
    expect(await hub.readBytes('config.json')).toEqual(config);
  });

  it('a cached file that was truncated or corrupted is fetched again, not loaded', async () => {
    const { endpoint, log } = await serve({});
    const cacheDir = await mkdtemp(join(tmpdir(), 'rankscope-hubcache-'));
    const cache = new NodeFsBlobCache(cacheDir);
    await new HubSource('org/model', { endpoint, cache }).readBytes('model.safetensors');
    const cached = await listCachedHubModels(cache);
    expect(cached[0].files.map((f) => f.file)).toEqual(['model.safetensors']);
    // Truncate the cached copy on disk, as a crash during a copy or a full disk would.
    const find = async (d: string): Promise<string> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) {
          const f = await find(p).catch(() => '');
          if (f) return f;
        } else if (e.name === 'model.safetensors') return p;
      }
      throw new Error('not found');
    };
    const path = await find(cacheDir);
    await writeFile(path, (await readFile(path)).subarray(0, 1000));
    const before = log.length;
    expect(await new HubSource('org/model', { endpoint, cache }).readBytes('model.safetensors')).toEqual(weights);
    expect(log.slice(before).filter((l) => l.startsWith('GET'))).toHaveLength(1);
    // And a good cache entry loads with no request at all.
    const after = log.length;
    expect(await new HubSource('org/model', { endpoint, cache }).readBytes('model.safetensors')).toEqual(weights);
    expect(log.length).toBe(after);
  });
});
