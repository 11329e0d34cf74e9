import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FingerprintingSource } from './fingerprinting';
import { MemorySource } from './memory';

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

describe('FingerprintingSource', () => {
  const weights = new Uint8Array([1, 2, 3, 4, 250]);
  const config = '{"model_type": "vit"}';
  const files = (): Array<[string, Uint8Array]> => [
    ['model.safetensors', weights],
    ['config.json', new TextEncoder().encode(config)],
    ['unused.txt', new TextEncoder().encode('never read')],
  ];

  it('hashes exactly the files that were read, as sha256sum lists them', async () => {
    const src = new FingerprintingSource(new MemorySource(files()));
    expect(await src.readText('config.json')).toBe(config);
    expect(await src.readBytes('model.safetensors')).toEqual(weights);
    await src.readBytes('model.safetensors'); // read twice, counted once
    const fp = await src.setFingerprint();
    // What `sha256sum config.json model.safetensors | sha256sum` gives for these two files.
    const listing = `${sha(config)}  config.json\n${sha(weights)}  model.safetensors\n`;
    expect(fp).toEqual({ sha256: sha(listing), files: 2, bytes: weights.length + config.length });
  });

  it('changes when one byte of a file changes, and not with the read order', async () => {
    const a = new FingerprintingSource(new MemorySource(files()));
    await a.readBytes('model.safetensors');
    await a.readText('config.json');
    const changed = files();
    changed[0][1] = new Uint8Array([1, 2, 3, 4, 251]);
    const b = new FingerprintingSource(new MemorySource(changed));
    await b.readText('config.json');
    await b.readBytes('model.safetensors');
    const c = new FingerprintingSource(new MemorySource(files()));
    await c.readText('config.json');
    await c.readBytes('model.safetensors');
    expect((await a.setFingerprint()).sha256).not.toBe((await b.setFingerprint()).sha256);
    expect((await a.setFingerprint()).sha256).toBe((await c.setFingerprint()).sha256);
  });
});
