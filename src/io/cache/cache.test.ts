import 'fake-indexeddb/auto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBlobCache, type BlobCache } from './blobCache';
import { IndexedDbBlobCache } from './indexedDbBlobCache';
import { NodeFsBlobCache, defaultHubCacheDir } from './nodeBlobCache';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const caches: [string, () => Promise<BlobCache>][] = [
  [
    'filesystem',
    async () => {
      const d = await mkdtemp(join(tmpdir(), 'rankscope-blob-'));
      dirs.push(d);
      return new NodeFsBlobCache(join(d, 'hub'));
    },
  ],
  ['IndexedDB', async () => new IndexedDbBlobCache(`test-${Math.random()}`)],
  ['memory', async () => new MemoryBlobCache()],
];

describe.each(caches)('%s blob cache', (_, make) => {
  it('stores, lists, deletes and clears by prefix', async () => {
    const cache = await make();
    expect(await cache.list()).toEqual([]);
    expect(await cache.get('models--a--b/main/config.json')).toBeUndefined();
    await cache.put('models--a--b/main/config.json', Uint8Array.of(1, 2, 3));
    await cache.put('models--a--b/main/sub/model.safetensors', new Uint8Array(1000).fill(7));
    await cache.put('models--c--d/main/config.json', Uint8Array.of(9));
    expect(await cache.has('models--a--b/main/config.json')).toBe(true);
    expect(await cache.has('models--a--b/main')).toBe(false);
    expect([...(await cache.get('models--a--b/main/config.json'))!]).toEqual([1, 2, 3]);
    const all = await cache.list();
    expect(all.map((e) => [e.key, e.size])).toEqual([
      ['models--a--b/main/config.json', 3],
      ['models--a--b/main/sub/model.safetensors', 1000],
      ['models--c--d/main/config.json', 1],
    ]);
    expect(all.every((e) => e.storedAt > Date.now() - 60_000)).toBe(true);
    await cache.put('models--a--b/main/config.json', Uint8Array.of(4));
    expect([...(await cache.get('models--a--b/main/config.json'))!]).toEqual([4]);
    expect(await cache.delete('models--c--d/main/config.json')).toBe(true);
    expect(await cache.delete('models--c--d/main/config.json')).toBe(false);
    expect(await cache.clear('models--a--b/')).toBe(2);
    expect(await cache.list()).toEqual([]);
    await cache.put('x/y', Uint8Array.of(1));
    expect(await cache.clear()).toBe(1);
    await expect(cache.put('../escape', Uint8Array.of(1))).rejects.toThrow(/not a plain '\/'-separated relative name/);
  });
});

describe('filesystem cache', () => {
  it('leaves no empty folders or temporary files after a clear', async () => {
    const d = await mkdtemp(join(tmpdir(), 'rankscope-blob-'));
    dirs.push(d);
    const cache = new NodeFsBlobCache(d);
    await cache.put('models--a--b/main/x', Uint8Array.of(1));
    await cache.clear();
    expect(await readdir(d)).toEqual([]);
  });

  it('defaults to ~/.cache/rankscope/hub, or under XDG_CACHE_HOME', () => {
    const old = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = '/tmp/xdg';
    expect(defaultHubCacheDir()).toBe('/tmp/xdg/rankscope/hub');
    delete process.env.XDG_CACHE_HOME;
    expect(defaultHubCacheDir()).toMatch(/\.cache\/rankscope\/hub$/);
    if (old !== undefined) process.env.XDG_CACHE_HOME = old;
  });
});
