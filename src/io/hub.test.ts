import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeFsBlobCache } from './cache/nodeBlobCache';
import { loadCheckpoint, type CheckpointProgress } from './checkpoint';
import { IoError } from './errors';
import { writeSafetensors } from './safetensors';
import type { LoadProgress } from './source';
import { HubSource, clearCachedHubModel, hubFileUrl, listCachedHubModels } from './sources/hub';
import { startHubServer, type HubServer } from './testing/hubServer';
import { writeTinyCheckpoint } from './testing/tinyCheckpoint';

let root: string;
let server: HubServer;
const SLOW_BYTES = 256 * 1024;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rankscope-hub-'));
  await writeTinyCheckpoint(join(root, 'tiny', 'vit'), { preprocessor: { do_resize: true, size: { height: 8, width: 8 }, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] } });
  await writeTinyCheckpoint(join(root, 'tiny', 'vit-sharded'), { shards: 3 });
  await writeTinyCheckpoint(join(root, 'tiny', 'vit-half'), { dtype: 'F16' });
  await writeTinyCheckpoint(join(root, 'tiny', 'gated'));
  await mkdir(join(root, 'old', 'pickled'), { recursive: true });
  await writeFile(join(root, 'old', 'pickled', 'config.json'), '{"model_type":"vit"}');
  // Never parsed: the bytes only have to exist.
  await writeFile(join(root, 'old', 'pickled', 'pytorch_model.bin'), 'PK\u0003\u0004 pickle bytes');
  await mkdir(join(root, 'big', 'slow'), { recursive: true });
  await writeFile(join(root, 'big', 'slow', 'blob.bin'), new Uint8Array(SLOW_BYTES).map((_, i) => i & 255));
  await writeFile(join(root, 'big', 'slow', 'model.safetensors'), writeSafetensors({ w: { shape: [SLOW_BYTES / 4], data: new Float32Array(SLOW_BYTES / 4).fill(0.25) } }));
  await writeFile(join(root, 'big', 'slow', 'config.json'), '{"model_type":"vit"}');
  server = await startHubServer({
    root,
    gated: new Map([['tiny/gated', 'hf_secret']]),
    slow: new Map([
      ['big/slow/blob.bin', { bytesPerTick: 16 * 1024, tickMs: 10 }],
      ['big/slow/model.safetensors', { bytesPerTick: 16 * 1024, tickMs: 10 }],
    ]),
  });
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

async function freshCache() {
  return new NodeFsBlobCache(await mkdtemp(join(tmpdir(), 'rankscope-cache-')));
}

async function rejection(p: Promise<unknown>): Promise<IoError> {
  try {
    await p;
  } catch (e) {
    return e as IoError;
  }
  throw new Error('expected a rejection');
}

describe('Hub source against a local server with the Hub URL layout', () => {
  it('builds resolve URLs the way the Hub does', () => {
    expect(hubFileUrl('google/vit-base-patch16-224', 'config.json')).toBe('https://huggingface.co/google/vit-base-patch16-224/resolve/main/config.json');
    expect(hubFileUrl('a/b', 'sub dir/x.json', { endpoint: 'http://h/', revision: 'refs/pr/1' })).toBe('http://h/a/b/resolve/refs%2Fpr%2F1/sub%20dir/x.json');
    expect(() => new HubSource('not a model id')).toThrow(/"not a model id" is not a Hugging Face model id\. Write it as owner\/name/);
  });

  it('loads a checkpoint with progress, then again from the cache with the network gone', async () => {
    const cache = await freshCache();
    const hub = new HubSource('tiny/vit', { endpoint: server.endpoint, cache });
    const events: CheckpointProgress[] = [];
    const ckpt = await loadCheckpoint(hub, { onProgress: (p) => events.push(p) });
    expect(ckpt.config.model_type).toBe('vit');
    expect(ckpt.weightFiles).toEqual(['model.safetensors']);
    expect(ckpt.tensors.get('vit.embeddings.patch_embeddings.projection.weight')!.shape).toEqual([8, 3, 4, 4]);
    expect(ckpt.preprocessor.source).toBe('preprocessor_config.json');
    expect(ckpt.preprocessor.inputSize).toEqual({ height: 8, width: 8 });
    const last = events[events.length - 1];
    expect(last.file).toBe('model.safetensors');
    expect(last.loaded).toBe(last.total);
    expect(last.total).toBeGreaterThan(0);
    expect(events[0].loaded).toBe(0);

    const listed = await listCachedHubModels(cache);
    expect(listed).toEqual([
      expect.objectContaining({ repoId: 'tiny/vit', revision: 'main', files: expect.arrayContaining([expect.objectContaining({ file: 'model.safetensors' })]) }),
    ]);
    expect(listed[0].files.map((f) => f.file).sort()).toEqual(['config.json', 'model.safetensors', 'preprocessor_config.json']);

    // The same cache without a server: every file comes from disk.
    const offline = new HubSource('tiny/vit', { endpoint: 'http://127.0.0.1:9', cache });
    const cachedEvents: CheckpointProgress[] = [];
    const again = await loadCheckpoint(offline, { onProgress: (p) => cachedEvents.push(p) });
    expect(cachedEvents.every((e) => e.cached)).toBe(true);
    for (const [name, t] of ckpt.tensors) expect(again.tensors.get(name)!.data).toEqual(t.data);

    expect(await clearCachedHubModel(cache, 'tiny/vit')).toBe(3);
    expect(await cache.list()).toEqual([]);
    const gone = await rejection(loadCheckpoint(offline));
    expect(gone.code).toBe('network');
    expect(gone.message).toMatch(/Could not reach http:\/\/127\.0\.0\.1:9 to fetch .* of tiny\/vit .*models already in the cache load without network/);
  });

  it('serves a sharded model from the cache after its server has stopped', async () => {
    const own = await startHubServer({ root });
    const cache = await freshCache();
    const first = await loadCheckpoint(new HubSource('tiny/vit-sharded', { endpoint: own.endpoint, cache }));
    const requests = own.log.length;
    // Cached: loading again asks the server nothing, not even for a listing.
    await loadCheckpoint(new HubSource('tiny/vit-sharded', { endpoint: own.endpoint, cache }));
    expect(own.log.length).toBe(requests);
    await own.close();
    const hub = new HubSource('tiny/vit-sharded', { endpoint: own.endpoint, cache });
    const second = await loadCheckpoint(hub);
    expect(own.log.length).toBe(requests);
    expect([...second.tensors.keys()].sort()).toEqual([...first.tensors.keys()].sort());
    expect((await hub.readBytes('config.json')).length).toBeGreaterThan(0);
    // A file never downloaded still needs the network, and says so.
    expect((await rejection(hub.readBytes('README.md'))).code).toBe('network');
    // Five files, and beside each the content hash its ETag promised.
    expect(await cache.clear()).toBe(10);
    expect(await listCachedHubModels(cache)).toEqual([]);
  });

  it('loads a sharded checkpoint through model.safetensors.index.json', async () => {
    const ckpt = await loadCheckpoint(new HubSource('tiny/vit-sharded', { endpoint: server.endpoint }));
    expect(ckpt.weightFiles).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    expect(ckpt.tensors.size).toBe(10);
    const single = await loadCheckpoint(new HubSource('tiny/vit', { endpoint: server.endpoint }));
    for (const [name, t] of single.tensors) expect(ckpt.tensors.get(name)!.data).toEqual(t.data);
    expect(ckpt.preprocessor.source).toBe('defaults');
  });

  it('converts F16 checkpoints to float32', async () => {
    const half = await loadCheckpoint(new HubSource('tiny/vit-half', { endpoint: server.endpoint }));
    const full = await loadCheckpoint(new HubSource('tiny/vit', { endpoint: server.endpoint }));
    for (const [name, t] of full.tensors) {
      const h = half.tensors.get(name)!;
      expect(h.dtype).toBe('F16');
      for (let i = 0; i < t.data.length; i++) expect(Math.abs(h.data[i] - t.data[i])).toBeLessThanOrEqual(Math.abs(t.data[i]) * 2 ** -11 + 2 ** -24);
    }
  });

  it('cancels a slow download mid-stream and caches nothing', async () => {
    const cache = await freshCache();
    const hub = new HubSource('big/slow', { endpoint: server.endpoint, cache });
    const ac = new AbortController();
    const events: LoadProgress[] = [];
    const e = await rejection(
      hub.readBytes('blob.bin', {
        signal: ac.signal,
        onProgress: (p) => {
          events.push(p);
          if (p.loaded >= 32 * 1024) ac.abort();
        },
      }),
    );
    expect(e.name).toBe('AbortError');
    expect(e.code).toBe('aborted');
    expect(e.message).toBe('Loading blob.bin from Hugging Face model big/slow was cancelled.');
    const loaded = events[events.length - 1].loaded;
    expect(loaded).toBeGreaterThanOrEqual(32 * 1024);
    expect(loaded).toBeLessThan(SLOW_BYTES);
    expect(events[0].total).toBe(SLOW_BYTES);
    expect(await cache.list()).toEqual([]);
  });

  it('cancels a checkpoint load through the same signal', async () => {
    const ac = new AbortController();
    const p = loadCheckpoint(new HubSource('big/slow', { endpoint: server.endpoint }), {
      signal: ac.signal,
      onProgress: (e) => e.loaded > 0 && ac.abort(),
    });
    expect((await rejection(p)).name).toBe('AbortError');
  });

  it('reports progress of a slow download in many steps up to the content-length', async () => {
    const events: LoadProgress[] = [];
    const bytes = await new HubSource('big/slow', { endpoint: server.endpoint }).readBytes('blob.bin', { onProgress: (p) => events.push(p) });
    expect(bytes.length).toBe(SLOW_BYTES);
    expect(bytes[SLOW_BYTES - 1]).toBe((SLOW_BYTES - 1) & 255);
    expect(events.length).toBeGreaterThan(8);
    expect(events.every((e) => e.total === SLOW_BYTES)).toBe(true);
    for (let i = 1; i < events.length; i++) expect(events[i].loaded).toBeGreaterThanOrEqual(events[i - 1].loaded);
  });

  it('says which file and repo were not found, and suggests checking the id', async () => {
    const hub = new HubSource('tiny/vit', { endpoint: server.endpoint });
    const e = await rejection(hub.readBytes('missing.json'));
    expect(e.code).toBe('not-found');
    expect(e.file).toBe('missing.json');
    expect(e.message).toMatch(/^missing\.json was not found in tiny\/vit \(revision main\) \(http:.*\/tiny\/vit\/resolve\/main\/missing\.json\)\. Check the model id and revision/);
    const rev = await rejection(new HubSource('tiny/vit', { endpoint: server.endpoint, revision: 'v9' }).readBytes('config.json'));
    expect(rev.message).toMatch(/tiny\/vit has no revision "v9"/);
    const noRepo = await rejection(loadCheckpoint(new HubSource('nobody/nothing', { endpoint: server.endpoint })));
    expect(noRepo.code).toBe('unauthorized');
    expect(noRepo.message).toMatch(/gated or private, or the id does not exist.*Check the id/);
  });

  it('explains gated models, and loads them with a token', async () => {
    const e = await rejection(loadCheckpoint(new HubSource('tiny/gated', { endpoint: server.endpoint })));
    expect(e.code).toBe('unauthorized');
    expect(e.message).toMatch(/The Hub refused .* of tiny\/gated \(revision main\) \(HTTP 401\)\. The model is gated: accept its terms .* access token/);
    const wrong = await rejection(new HubSource('tiny/gated', { endpoint: server.endpoint, token: 'nope' }).readBytes('config.json'));
    expect(wrong.message).toMatch(/HTTP 403/);
    const ok = await loadCheckpoint(new HubSource('tiny/gated', { endpoint: server.endpoint, token: 'hf_secret' }));
    expect(ok.tensors.size).toBe(10);
  });

  it('refuses a pickle-only model without downloading the pickle', async () => {
    const before = server.log.length;
    const e = await rejection(loadCheckpoint(new HubSource('old/pickled', { endpoint: server.endpoint })));
    expect(e.code).toBe('pickle');
    expect(e.message).toMatch(/has only PyTorch pickle weights \(pytorch_model\.bin\)\. Rankscope does not open pickle files.*Convert the checkpoint to safetensors.*convert.*save_file/);
    expect(server.log.slice(before).some((l) => l.includes('pytorch_model.bin'))).toBe(false);
  });

  it('probes with HEAD when the endpoint has no model-info API', async () => {
    const noApi: typeof fetch = (input, init) => (String(input).includes('/api/') ? Promise.resolve(new Response('', { status: 404 })) : fetch(input, init));
    const ckpt = await loadCheckpoint(new HubSource('tiny/vit-sharded', { endpoint: server.endpoint, fetch: noApi }));
    expect(ckpt.tensors.size).toBe(10);
    const pickled = await rejection(loadCheckpoint(new HubSource('old/pickled', { endpoint: server.endpoint, fetch: noApi })));
    expect(pickled.code).toBe('pickle');
  });
});
