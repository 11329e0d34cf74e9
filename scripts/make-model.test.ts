import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadCheckpoint } from '../src/io/checkpoint';
import { readSafetensors } from '../src/io/safetensors';
import { NodeFolderSource } from '../src/io/sources/nodeFolder';
import { randomArray } from '../src/engine/random';
import { makeModel, weights64 } from '../src/models/makeModel';
import { referenceForward } from '../src/models/reference/transformer64';
import { expectedTensors, HEAD_MODULE } from '../src/models/names';
import { parseConfig } from '../src/models/spec';
import { checkpointFiles, main, parseMakeModelArgs } from './make-model';

describe('make-model writes a Hugging Face checkpoint folder', () => {
  it('model.safetensors holds exactly the expected tensors with the generated values; configs parse', () => {
    for (const arch of ['vit', 'deit', 'clip'] as const) {
      const ck = makeModel({ arch, preset: 'tiny', seed: 8 });
      const files = checkpointFiles(ck);
      expect([...files.keys()].sort()).toEqual(['config.json', 'model.safetensors', 'preprocessor_config.json']);
      const st = readSafetensors(files.get('model.safetensors')!, { fileName: 'model.safetensors' });
      expect(st.metadata).toEqual({ format: 'pt' });
      const config = JSON.parse(new TextDecoder().decode(files.get('config.json')!));
      const spec = parseConfig(config, 'config.json', st.tensors.keys());
      const want = expectedTensors(spec);
      want.set(`${HEAD_MODULE}.weight`, [10, spec.hidden]);
      want.set(`${HEAD_MODULE}.bias`, [10]);
      expect([...st.tensors.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, t] of st.tensors) {
        expect(t.dtype).toBe('F32');
        expect(t.shape, name).toEqual(want.get(name));
        expect(t.data).toEqual(ck.tensors.get(name)!.data);
      }
      const pre = JSON.parse(new TextDecoder().decode(files.get('preprocessor_config.json')!));
      expect(pre.do_normalize).toBe(true);
    }
  });

  it('the same seed gives the same bytes; another seed different weights', () => {
    const a = checkpointFiles(makeModel({ arch: 'clip', preset: 'micro', seed: 123 }));
    const b = checkpointFiles(makeModel({ arch: 'clip', preset: 'micro', seed: 123 }));
    const c = checkpointFiles(makeModel({ arch: 'clip', preset: 'micro', seed: 124 }));
    for (const [name, bytes] of a) expect(Buffer.from(b.get(name)!).equals(Buffer.from(bytes)), name).toBe(true);
    expect(Buffer.from(c.get('model.safetensors')!).equals(Buffer.from(a.get('model.safetensors')!))).toBe(false);
    expect(Buffer.from(c.get('config.json')!).equals(Buffer.from(a.get('config.json')!))).toBe(true);
  });

  it('parses the command line and refuses bad options with a usage message', () => {
    expect(parseMakeModelArgs(['--arch', 'vit', '--preset', 'micro', '--out', 'd', '--seed', '4', '--labels', '5', '--init', 'varied', '--channels', '1'])).toEqual({
      arch: 'vit',
      preset: 'micro',
      out: 'd',
      seed: 4,
      labels: 5,
      init: 'varied',
      dims: { channels: 1 },
    });
    expect(parseMakeModelArgs(['--arch', 'clip', '--out', 'd', '--labels', 'cat,dog', '--no-head'])).toMatchObject({ labels: ['cat', 'dog'], head: false, preset: 'tiny' });
    expect(() => parseMakeModelArgs(['--arch', 'resnet', '--out', 'd'])).toThrow(/--arch/);
    expect(() => parseMakeModelArgs(['--arch', 'vit'])).toThrow(/--out/);
    expect(() => parseMakeModelArgs(['--arch', 'vit', '--out', 'd', '--preset', 'huge'])).toThrow(/micro, tiny, small/);
    expect(() => parseMakeModelArgs(['--arch', 'vit', '--out', 'd', '--seed', '-1'])).toThrow(/--seed/);
    expect(() => parseMakeModelArgs(['--arch', 'vit', '--out', 'd', '--bogus'])).toThrow(/unknown option/);
  });

  it('main writes the folder, and answers bad arguments with exit code 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rankscope-make-model-'));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await main(['--arch', 'vit', '--preset', 'micro', '--out', dir, '--seed', '3'])).toBe(0);
      const onDisk = await readFile(join(dir, 'model.safetensors'));
      const inMemory = checkpointFiles(makeModel({ arch: 'vit', preset: 'micro', seed: 3 })).get('model.safetensors')!;
      expect(onDisk.equals(Buffer.from(inMemory))).toBe(true);
      expect(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).architectures).toEqual(['ViTForImageClassification']);
      expect(await main(['--arch', 'vit'])).toBe(2);
      expect(await main(['--arch', 'vit', '--out', dir, '--heads', '5'])).toBe(2);
      expect(err.mock.calls.flat().join('\n')).toMatch(/divisible/);
    } finally {
      log.mockRestore();
      err.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a written checkpoint loads through the io layer and runs in the reference', () => {
  for (const arch of ['vit', 'clip'] as const) {
    it(`${arch}: loadCheckpoint → parseConfig → referenceForward gives the generated model's logits`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'rankscope-make-model-'));
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      try {
        expect(await main(['--arch', arch, '--preset', 'micro', '--out', dir, '--seed', '11', '--init', 'varied'])).toBe(0);
        const loaded = await loadCheckpoint(new NodeFolderSource(dir));
        const spec = parseConfig(loaded.config, 'config.json', loaded.tensors.keys());
        // The command writes a whole CLIP (both towers and a tokenizer) by default.
        const ck = makeModel({ arch, preset: 'micro', seed: 11, init: 'varied', text: arch === 'clip' });
        expect(spec).toEqual(ck.spec);
        if (arch === 'clip') {
          expect(loaded.tokenizer?.files).toEqual(['tokenizer.json', 'tokenizer_config.json']);
          for (const n of ['text_model.embeddings.token_embedding.weight', 'text_projection.weight', 'visual_projection.weight', 'logit_scale']) expect(loaded.tensors.has(n), n).toBe(true);
          expect(Array.from(loaded.tensors.get('logit_scale')!.data)).toEqual([Math.fround(2.6592)]);
          expect(loaded.tensors.get('logit_scale')!.shape).toEqual([]);
        } else expect(loaded.tokenizer).toBeUndefined();
        expect(loaded.preprocessor.source).toBe('preprocessor_config.json');
        expect(loaded.preprocessor.inputSize).toEqual({ height: 16, width: 16 });
        const weights = new Map([...loaded.tensors].map(([n, t]) => [n, Float64Array.from(t.data)] as const));
        const px = randomArray(2 * 3 * 16 * 16, 1, 2, { kind: 'normal', std: 1 });
        const a = referenceForward({ spec, weights, images: px }).logits;
        const b = referenceForward({ spec: ck.spec, weights: weights64(ck), images: px }).logits;
        expect([...a]).toEqual([...b]);
      } finally {
        log.mockRestore();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
