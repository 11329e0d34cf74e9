import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IoError } from './errors';
import { looksLikePath, modelSourceFor, NodeFolderSource } from './node';
import { HubSource } from './sources/hub';

describe('modelSourceFor: what --model names', () => {
  it('a missing path is reported as a missing path, not as a bad Hub id', () => {
    for (const arg of ['./no-such-model', '../nowhere/model', '/tmp/rankscope-missing/model', 'models/vit/tiny', '~/models/x']) {
      let error: unknown;
      try {
        modelSourceFor(arg);
      } catch (e) {
        error = e;
      }
      expect(error, arg).toBeInstanceOf(IoError);
      expect((error as IoError).code).toBe('not-found');
      expect((error as Error).message).toContain(arg.startsWith('~') ? '~' : resolve(arg));
      expect((error as Error).message).not.toMatch(/is not a Hugging Face model id/);
    }
  });

  it('a file is refused with what to give instead', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rankscope-node-'));
    const file = join(dir, 'model.safetensors');
    await writeFile(file, 'x');
    expect(() => modelSourceFor(file)).toThrow(/is a file\. Give the folder that holds config\.json/);
    expect(modelSourceFor(dir)).toBeInstanceOf(NodeFolderSource);
  });

  it('owner/name and bare names still go to the Hub', () => {
    expect(looksLikePath('google/vit-base-patch16-224')).toBe(false);
    expect(modelSourceFor('google/vit-base-patch16-224', { cache: null })).toBeInstanceOf(HubSource);
    expect(modelSourceFor('bert-base-uncased', { cache: null })).toBeInstanceOf(HubSource);
  });
});
