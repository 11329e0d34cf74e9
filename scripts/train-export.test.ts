/**
 * What `npm run train` leaves behind for Python: DIR/adapter/ in PEFT's format (or NOLA's, or
 * none for full fine-tuning and the probe) and DIR/merged/, a checkpoint that loads back.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/io/checkpoint';
import { NodeFolderSource } from '../src/io/node';
import { readAdapter } from '../src/io/peft';
import { makeModel } from '../src/models/makeModel';
import { parseConfig } from '../src/models/spec';
import { writeCheckpoint } from './make-model';
import { parseTrainArgs, train } from './train';

const FMNIST = '/usr/share/datasets/fashion-mnist';
let dir: string;
let modelDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rankscope-export-'));
  modelDir = join(dir, 'vit-micro');
  await writeCheckpoint(modelDir, makeModel({ arch: 'vit', preset: 'micro', seed: 0, labels: 10 }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('npm run train writes the adapter and the merged model', () => {
  it.each([
    ['lora', ['adapter_config.json', 'adapter_model.safetensors']],
    ['nola', ['nola_coefficients.safetensors', 'nola_config.json']],
    ['probe', null],
  ] as const)('%s', async (method, adapterFiles) => {
    const out = join(dir, method);
    const extra = method === 'nola' ? ['--set', 'ka=16', '--set', 'kb=16'] : [];
    const args = parseTrainArgs([
      '--model', modelDir, '--data', FMNIST, '--method', method, '--steps', '2', '--batch', '8',
      '--train-size', '20', '--val-size', '10', '--targets', 'query,value', '--out', out, ...extra,
    ]);
    await train(args, () => {});
    const top = await readdir(out);
    if (adapterFiles) {
      expect(top).toContain('adapter');
      expect(await readdir(join(out, 'adapter'))).toEqual(expect.arrayContaining([...adapterFiles, 'README.md', 'rankscope_run.json', 'train_peft.py', 'requirements.txt', 'rankscope_train.json']));
      // The Python continuation carries the CLI run's own settings and the model's input size.
      const cont = JSON.parse(await readFile(join(out, 'adapter', 'rankscope_train.json'), 'utf8'));
      expect(cont.train).toMatchObject({ steps: 2, batch_size: 8 });
      expect(cont.labels).toHaveLength(10);
      expect(cont.preprocessing.size).toBeGreaterThan(0);
      const adapter = await readAdapter(new NodeFolderSource(join(out, 'adapter')));
      expect(adapter).toMatchObject({ method, baseModel: modelDir });
      expect(adapter.labels).toHaveLength(10);
    } else expect(top).not.toContain('adapter');
    expect((await readdir(join(out, 'merged'))).sort()).toEqual(['config.json', 'model.safetensors', 'preprocessor_config.json']);
    const merged = await loadCheckpoint(new NodeFolderSource(join(out, 'merged')));
    const spec = parseConfig(merged.config, 'config.json', merged.tensors.keys());
    expect(spec).toMatchObject({ architecture: 'ViTForImageClassification', hasHead: true });
    expect(spec.labels).toContain('Ankle boot');
  }, 120_000);
});
