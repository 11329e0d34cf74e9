import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from './checkpoint';
import { IoError } from './errors';
import { imagePreprocessing } from './preprocessor';
import { writeSafetensors } from './safetensors';
import { DroppedFilesSource } from './sources/droppedFiles';
import { NodeFolderSource } from './sources/nodeFolder';
import { writeTinyCheckpoint } from './testing/tinyCheckpoint';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rankscope-ckpt-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<IoError> {
  try {
    await p;
  } catch (e) {
    return e as IoError;
  }
  throw new Error('expected a rejection');
}

describe('checkpoint folders', () => {
  it('loads the same tensors from a Node folder and from dropped files', async () => {
    const dir = join(root, 'vit');
    const written = await writeTinyCheckpoint(dir, { dtype: 'BF16' });
    const fromDisk = await loadCheckpoint(new NodeFolderSource(dir));
    expect(fromDisk.source).toBe(`folder ${dir}`);
    const files = await Promise.all(
      ['config.json', 'model.safetensors'].map(async (name) => {
        const f = new File([await readFile(join(dir, name))], name);
        // What a browser sets for a file picked from a folder.
        Object.defineProperty(f, 'webkitRelativePath', { value: `vit/${name}` });
        return f;
      }),
    );
    const dropped = new DroppedFilesSource(files);
    expect(dropped.description).toBe('dropped folder vit');
    expect(await dropped.list()).toEqual(['config.json', 'model.safetensors']);
    const fromDrop = await loadCheckpoint(dropped);
    for (const [name, t] of written) {
      expect(fromDisk.tensors.get(name)!.dtype).toBe('BF16');
      expect(fromDrop.tensors.get(name)!.data).toEqual(fromDisk.tensors.get(name)!.data);
      // bfloat16 keeps 8 significant bits.
      for (let i = 0; i < t.data.length; i++) expect(Math.abs(fromDisk.tensors.get(name)!.data[i] - t.data[i])).toBeLessThanOrEqual(Math.abs(t.data[i]) * 2 ** -8);
    }
  });

  it('reports progress and honours cancel when reading local files', async () => {
    const dir = join(root, 'vit');
    const src = new NodeFolderSource(dir);
    const seen: number[] = [];
    await src.readBytes('model.safetensors', { onProgress: (p) => seen.push(p.loaded) });
    expect(seen[0]).toBe(0);
    expect(seen[seen.length - 1]).toBeGreaterThan(0);
    const ac = new AbortController();
    ac.abort();
    expect((await rejection(src.readBytes('model.safetensors', { signal: ac.signal }))).name).toBe('AbortError');
    const dropped = new DroppedFilesSource([{ file: new Blob([new Uint8Array(10)]), path: 'x.bin' }]);
    expect((await rejection(dropped.readBytes('x.bin', { signal: ac.signal }))).name).toBe('AbortError');
  });

  it('refuses pickle-only folders and never reads the pickle', async () => {
    const dir = join(root, 'pickled');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), '{"model_type":"vit"}');
    await writeFile(join(dir, 'pytorch_model.bin'), 'not read');
    await writeFile(join(dir, 'weights.pth'), 'not read');
    const src = new NodeFolderSource(dir);
    const reads: string[] = [];
    const spy = Object.assign(Object.create(src) as NodeFolderSource, {
      readBytes: (f: string) => (reads.push(f), src.readBytes(f)),
      readText: (f: string) => (reads.push(f), src.readText(f)),
    });
    const e = await rejection(loadCheckpoint(spy));
    expect(e.code).toBe('pickle');
    expect(e.message).toContain(`folder ${dir} has only PyTorch pickle weights (pytorch_model.bin, weights.pth)`);
    expect(reads).toEqual([]);
  });

  it('names what is missing: weights, config.json, or a tensor a shard should hold', async () => {
    const empty = join(root, 'empty');
    await mkdir(empty, { recursive: true });
    await writeFile(join(empty, 'README.md'), '# nothing');
    await writeFile(join(empty, 'tf_model.h5'), '');
    const e1 = await rejection(loadCheckpoint(new NodeFolderSource(empty)));
    expect(e1.message).toMatch(/has no model\.safetensors or model\.safetensors\.index\.json\. Its weights are in tf_model\.h5, a format Rankscope does not read/);

    const noConfig = join(root, 'noconfig');
    await mkdir(noConfig, { recursive: true });
    await writeFile(join(noConfig, 'model.safetensors'), writeSafetensors({}));
    expect((await rejection(loadCheckpoint(new NodeFolderSource(noConfig)))).message).toMatch(/has no config\.json, so the architecture is unknown/);

    const bad = join(root, 'bad-shards');
    await writeTinyCheckpoint(bad, { shards: 2 });
    const index = JSON.parse(await readFile(join(bad, 'model.safetensors.index.json'), 'utf8'));
    index.weight_map['classifier.bias'] = 'model-00001-of-00002.safetensors';
    index.weight_map['vit.extra'] = 'model-00001-of-00002.safetensors';
    await writeFile(join(bad, 'model.safetensors.index.json'), JSON.stringify(index));
    expect((await rejection(loadCheckpoint(new NodeFolderSource(bad)))).message).toMatch(
      /says tensor "(classifier\.bias|vit\.extra)" is in model-00001-of-00002\.safetensors, but that file does not hold it/,
    );
    index.weight_map['vit.extra'] = '../../etc/passwd.safetensors';
    await writeFile(join(bad, 'model.safetensors.index.json'), JSON.stringify(index));
    expect((await rejection(loadCheckpoint(new NodeFolderSource(bad)))).message).toMatch(/"\.\.\/\.\.\/etc\/passwd\.safetensors" is not a relative file name inside/);
    index.weight_map['vit.extra'] = 'pytorch_model-00001.bin';
    await writeFile(join(bad, 'model.safetensors.index.json'), JSON.stringify(index));
    expect((await rejection(loadCheckpoint(new NodeFolderSource(bad)))).code).toBe('pickle');

    const broken = join(root, 'broken-config');
    await writeTinyCheckpoint(broken);
    await writeFile(join(broken, 'config.json'), '{"model_type": vit}');
    expect((await rejection(loadCheckpoint(new NodeFolderSource(broken)))).message).toMatch(/^config\.json in folder .* is not valid JSON/);

    expect((await rejection(new NodeFolderSource(join(root, 'nope')).list())).message).toMatch(/The folder .*nope does not exist/);
    expect((await rejection(new NodeFolderSource(root).readBytes('vit/missing.bin'))).message).toMatch(/vit\/missing\.bin was not found in folder/);
  });

  it('keeps only the tensors a filter asks for (the vision tower of a full CLIP)', async () => {
    const dir = join(root, 'clip');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'clip', vision_config: { image_size: 32 } }));
    const t = { shape: [2], data: Float32Array.of(1, 2) };
    await writeFile(join(dir, 'model.safetensors'), writeSafetensors({ 'vision_model.a': t, 'text_model.b': t, 'visual_projection.weight': t, 'logit_scale': { shape: [], data: Float32Array.of(2.6) } }));
    const ckpt = await loadCheckpoint(new NodeFolderSource(dir), { filter: (n) => n.startsWith('vision_model.') || n === 'visual_projection.weight' });
    expect([...ckpt.tensors.keys()].sort()).toEqual(['vision_model.a', 'visual_projection.weight']);
    expect(ckpt.preprocessor).toMatchObject({ family: 'clip', source: 'defaults', resize: { shortestEdge: 32 }, inputSize: { height: 32, width: 32 }, resample: 3 });
    expect(ckpt.preprocessor.mean![0]).toBeCloseTo(0.48145466);
  });
});

describe('image preprocessing settings', () => {
  it('reads old and new preprocessor_config.json forms', () => {
    const clipOld = imagePreprocessing({ model_type: 'clip_vision_model', image_size: 224 }, { size: 224, crop_size: 224, do_center_crop: true, image_mean: [0.1, 0.2, 0.3], image_std: [1, 1, 1], resample: 3 });
    expect(clipOld).toMatchObject({ resize: { shortestEdge: 224 }, centerCrop: { height: 224, width: 224 }, mean: [0.1, 0.2, 0.3], inputSize: { height: 224, width: 224 } });
    const vitOld = imagePreprocessing({ model_type: 'vit', image_size: 384 }, { size: 384, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] });
    expect(vitOld).toMatchObject({ resize: { height: 384, width: 384 }, centerCrop: null, inputSize: { height: 384, width: 384 }, rescaleFactor: 1 / 255 });
    const vitNew = imagePreprocessing({ model_type: 'vit' }, { size: { height: 160, width: 192 }, do_rescale: false, do_normalize: false });
    expect(vitNew).toMatchObject({ inputSize: { height: 160, width: 192 }, rescaleFactor: null, mean: null, std: null });
    const deit = imagePreprocessing({ model_type: 'deit', image_size: 224 }, null);
    expect(deit).toMatchObject({ resize: { height: 256, width: 256 }, centerCrop: { height: 224, width: 224 }, mean: [0.485, 0.456, 0.406] });
  });

  it('refuses normalisation statistics that divide by zero, naming the file and the value', async () => {
    const dir = join(root, 'std-zero');
    await writeTinyCheckpoint(dir);
    await writeFile(join(dir, 'preprocessor_config.json'), JSON.stringify({ image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0, 0.5] }));
    const e = await rejection(loadCheckpoint(new NodeFolderSource(dir)));
    expect(e).toBeInstanceOf(IoError);
    expect(e.message).toBe(
      `preprocessor_config.json in folder ${dir}: image_std is [0.5,0,0.5], and its entry 1 (0) is not a positive number: pixels are divided by it, ` +
        "so every image would become NaN or infinite. Fix image_std in the file (ViT's processors use [0.5, 0.5, 0.5]; CLIP's [0.2686, 0.2613, 0.2758]) and load the model again.",
    );
    // A single number stands for all three channels; a huge mean overflows to Infinity.
    expect(() => imagePreprocessing({ model_type: 'vit' }, { image_std: 0 })).toThrow(/image_std is \[0,0,0\], and its entry 0 \(0\)/);
    expect(() => imagePreprocessing({ model_type: 'vit' }, { image_mean: [0, 1e400, 0] })).toThrow(/image_mean is \[0,null,0\], and its entry 1 \(Infinity\) is not a finite number/);
    expect(() => imagePreprocessing({ model_type: 'vit' }, { image_std: [0.5, -1, 0.5] })).toThrow(/entry 1 \(-1\)/);
    // Sizes are whole pixels the batch code can allocate (found by the preprocessor fuzz target).
    expect(() => imagePreprocessing({ model_type: 'vit' }, { size: { height: 0, width: 5 } })).toThrow(/size\.height is 0, but image sizes are whole numbers of pixels from 1 to 4096/);
    expect(() => imagePreprocessing({ model_type: 'clip' }, { size: 2.5 })).toThrow(/size\.shortest_edge is 2\.5/);
    expect(() => imagePreprocessing({ model_type: 'vit' }, { do_center_crop: true, crop_size: 1e9 })).toThrow(/crop_size\.height is 1000000000/);
    // Normalisation off: the statistics are not used, so not checked.
    expect(imagePreprocessing({ model_type: 'vit' }, { do_normalize: false, image_std: 0 }).std).toBeNull();
  });
});
