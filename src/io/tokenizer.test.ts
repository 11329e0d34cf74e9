import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { checkpointFiles } from '../../scripts/make-model';
import { makeModel } from '../models/makeModel';
import { makeClipTokenizer } from '../models/makeTokenizer';
import { NodeFsBlobCache } from './cache/nodeBlobCache';
import { loadCheckpoint } from './checkpoint';
import { HubSource } from './sources/hub';
import { NodeFolderSource } from './sources/nodeFolder';
import { startHubServer, type HubServer } from './testing/hubServer';
import { textTokenizer, type TokenizerFiles } from './tokenizer';

const made = makeClipTokenizer();
const files: TokenizerFiles = { json: made.tokenizer, config: made.config, files: ['tokenizer.json', 'tokenizer_config.json'] };
const vocab = (made.tokenizer.model as { vocab: Record<string, number> }).vocab;

const PROMPTS = [
  'a photo of a cat.',
  'a photo of a T-shirt/top.',
  'Café crème, naïve façade — Ångström!',
  "it's a zyzzyva's 3rd photo (unknown words)",
  'emoji ✨🐈 and 中文 and \t  tabs  ',
  '   ',
];

describe('CLIP tokenizer from tokenizer.json', () => {
  it('gives the ids @huggingface/tokenizers gives for the same file, with start and end tokens', () => {
    const tok = textTokenizer(files, 'test', 77);
    const lib = new Tokenizer(made.tokenizer, made.config);
    for (const p of PROMPTS) {
      const ids = tok.encode(p);
      expect(ids, p).toEqual(lib.encode(p).ids);
      expect(ids[0]).toBe(made.bosId);
      expect(ids[ids.length - 1]).toBe(made.eosId);
      expect(ids.every((i) => i >= 0 && i < made.vocabSize)).toBe(true);
    }
  });

  it("is CLIP's BPE: lower-cased words end in </w>, merges join learned words, bytes cover the rest", () => {
    const tok = textTokenizer(files, 'test', 77);
    expect(tok.tokens('A photo of a Cat.')).toEqual(['<|startoftext|>', 'a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>', '.</w>', '<|endoftext|>']);
    expect(tok.encode('A photo of a Cat.')).toEqual([made.bosId, vocab['a</w>'], vocab['photo</w>'], vocab['of</w>'], vocab['a</w>'], vocab['cat</w>'], vocab['.</w>'], made.eosId]);
    // é is two UTF-8 bytes, each its own byte symbol (Ã + ©) when no merge covers it.
    expect(tok.tokens('é')).toEqual(['<|startoftext|>', 'Ã', '©</w>', '<|endoftext|>']);
    // The end-of-text id is the largest, as in OpenAI's vocabulary (argmax pooling relies on it).
    expect(made.eosId).toBe(made.vocabSize - 1);
    expect(vocab['!']).toBe(0);
  });

  it('truncates like CLIPTokenizer(truncation=True): first tokens kept, end-of-text last', () => {
    const tok = textTokenizer(files, 'test', 8);
    const ids = tok.encode('a photo of a cat and a dog and a bird and a frog');
    expect(ids).toHaveLength(8);
    expect(ids.slice(0, 7)).toEqual(new Tokenizer(made.tokenizer, made.config).encode('a photo of a cat and a dog and a bird and a frog').ids.slice(0, 7));
    expect(ids[7]).toBe(made.eosId);
  });

  it('a missing or unreadable tokenizer.json names the file and the folder', () => {
    expect(() => textTokenizer(undefined, 'models/clip', 77)).toThrow(/models\/clip has no tokenizer\.json/);
    expect(() => textTokenizer({ files: [] }, 'models/clip', 77)).toThrow(/tokenizer\.json/);
    expect(() => textTokenizer({ json: { model: { type: 'Nope' } }, files: ['tokenizer.json'] }, 'models/clip', 77)).toThrow(/tokenizer\.json in models\/clip/);
  });
});

describe('tokenizer files travel with the checkpoint', () => {
  let root: string;
  let server: HubServer;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'rankscope-tok-'));
    const dir = join(root, 'tiny', 'clip');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    for (const [name, bytes] of checkpointFiles(makeModel({ arch: 'clip', preset: 'micro', text: true }))) await writeFile(join(dir, name), bytes);
    server = await startHubServer({ root });
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('are downloaded and cached from the Hub with the model, and load offline', async () => {
    const cache = new NodeFsBlobCache(await mkdtemp(join(tmpdir(), 'rankscope-tok-cache-')));
    const ck = await loadCheckpoint(new HubSource('tiny/clip', { endpoint: server.endpoint, cache }));
    expect(ck.tokenizer?.files).toEqual(['tokenizer.json', 'tokenizer_config.json']);
    expect(server.log.some((l) => l.endsWith('/tokenizer.json'))).toBe(true);
    const offline = await loadCheckpoint(new HubSource('tiny/clip', { endpoint: 'http://127.0.0.1:9', cache }));
    expect(textTokenizer(offline.tokenizer, offline.source, 32).encode('a photo of a cat.')).toEqual(textTokenizer(ck.tokenizer, ck.source, 32).encode('a photo of a cat.'));
  });

  it('a broken tokenizer.json still loads the model and is named when the tokenizer is asked for', async () => {
    const dir = join(root, 'tiny', 'clip');
    await writeFile(join(dir, 'tokenizer.json'), '{ not json');
    const ck = await loadCheckpoint(new NodeFolderSource(dir));
    expect(ck.tensors.size).toBeGreaterThan(0);
    expect(() => textTokenizer(ck.tokenizer, ck.source, 32)).toThrow(/tokenizer\.json/);
  });
});
