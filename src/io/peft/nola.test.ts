/**
 * NOLA's own export format: what the files hold, that scripts/nola_delta.py (NumPy) rebuilds
 * each layer's ΔW from them alone, and that importing them gives the run back exactly.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFilesToFolder } from '../node';
import { readSafetensors } from '../safetensors';
import { MemorySource } from '../sources/memory';
import { randomArray, randU32 } from '../../engine/random';
import { STREAMS } from '../../engine/streams';
import { useGpu } from '../../testing/gpu';
import { AdapterImportError } from './config';
import { exportAdapterFiles } from './exportAdapter';
import { exportMergedFiles } from './exportMerged';
import { loadAdapterInto, readAdapter } from './importAdapter';
import { LABELS, logitsOf, maxAbs, maxAbsDiff, testCheckpoint, testImages, testRun } from './testRun';

const gpu = useGpu();
const info = { baseModel: '/models/vit-micro', labels: LABELS };
const made = testCheckpoint();
const images = testImages(made.spec.imageSize);
const cfg = { rank: 2, ka: 16, kb: 12, c: 2, init: 'nola' };
const targets = ['query', 'intermediate.dense', 'output.dense'];

const numpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
const haveNumpy = numpy.status === 0;

describe('NOLA export (Rankscope format)', () => {
  it('records bases, coefficients and head; imports back to identical logits; refuses other bases', async () => {
    const { ctx } = gpu();
    const run = testRun(ctx, made, 'nola', cfg, targets, { perturb: 300, seed: 12345 });
    const files = await exportAdapterFiles(run, info);
    expect([...files.keys()].sort()).toEqual(['README.md', 'nola_coefficients.safetensors', 'nola_config.json', 'rankscope_run.json', 'rankscope_train.json', 'requirements.txt', 'train_peft.py']);
    const config = JSON.parse(new TextDecoder().decode(files.get('nola_config.json'))) as Record<string, unknown>;
    expect(config).toMatchObject({
      format: 'rankscope-nola',
      format_version: 1,
      method: 'NOLA',
      base_model_name_or_path: '/models/vit-micro',
      rank: 2,
      ka: 16,
      kb: 12,
      c: 2,
      init: 'nola',
      seed: 12345,
      generator: 'rankscope-lowbias32-v1',
      stream_a: STREAMS.nolaA,
      stream_b: STREAMS.nolaB,
      distribution: 'uniform',
      modules_to_save: ['classifier'],
    });
    const layers = config.layers as Record<string, { in_features: number; out_features: number; check_a: number[] }>;
    expect(Object.keys(layers).sort()).toEqual(
      [0, 1].flatMap((i) => ['attention.attention.query', 'attention.output.dense', 'intermediate.dense', 'output.dense'].map((m) => `vit.encoder.layer.${i}.${m}`)).sort(),
    );
    expect(layers['vit.encoder.layer.0.intermediate.dense']).toMatchObject({ in_features: 16, out_features: 32 });
    expect(layers['vit.encoder.layer.0.intermediate.dense'].check_a).toHaveLength(8);
    const sd = readSafetensors(files.get('nola_coefficients.safetensors')!).tensors;
    expect(sd.get('vit.encoder.layer.1.output.dense.nola_alpha')!.shape).toEqual([16]);
    expect(sd.get('vit.encoder.layer.1.output.dense.nola_beta')!.shape).toEqual([12]);
    expect(sd.get('classifier.weight')!.shape).toEqual([3, 16]);
    expect(sd.size).toBe(8 * 2 + 2);

    const want = await logitsOf(run, images);
    const adapter = await readAdapter(new MemorySource(files, 'the NOLA export'));
    expect(adapter.runConfig).toEqual({ method: 'nola', methodConfig: cfg, targets: [...targets].sort(), seed: 12345 });
    const fresh = testRun(ctx, made, 'nola', adapter.runConfig.methodConfig, adapter.runConfig.targets, { seed: adapter.runConfig.seed });
    await loadAdapterInto(fresh, adapter, { baseModel: '/models/vit-micro/' });
    expect(maxAbsDiff(await logitsOf(fresh, images), want)).toBe(0);
    fresh.release();

    // Check values that the generator here does not reproduce are refused.
    const forged = structuredClone(config);
    (forged.layers as typeof layers)['vit.encoder.layer.0.attention.attention.query'].check_a[0] += 0.01;
    const tampered = new Map(files).set('nola_config.json', new TextEncoder().encode(JSON.stringify(forged)));
    const other = testRun(ctx, made, 'nola', cfg, targets, { seed: 12345 });
    const err = await loadAdapterInto(other, await readAdapter(new MemorySource(tampered, 'the forged export'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterImportError);
    expect((err as AdapterImportError).reason).toBe('generator');
    // And a run whose bases come from another seed.
    const wrongSeed = testRun(ctx, made, 'nola', cfg, targets, { seed: 1 });
    const err2 = await loadAdapterInto(wrongSeed, adapter).catch((e: unknown) => e);
    expect((err2 as AdapterImportError).reason).toBe('config');
    expect((err2 as Error).message).toContain('seed 12345');
    other.release();
    wrongSeed.release();
    run.release();
  });

  it.skipIf(!haveNumpy)("scripts/nola_delta.py's generator is bit for bit the engine's CPU mirror", () => {
    const cases = [
      [0, 0, [0, 1, 2, 1000]],
      [4294967295, STREAMS.nolaA, [0, 12345, 4294967295]],
      [12345, STREAMS.nolaB, [7, 65536, 123456789]],
    ] as const;
    const py = [
      'import sys, json; sys.path.insert(0, "scripts"); import numpy as np; import nola_delta as n',
      `cases = ${JSON.stringify(cases)}`,
      'out = [[int(v) for v in n.rand_u32(s, st, np.array(ix, dtype=np.uint64))] for s, st, ix in cases]',
      'u = n.uniform(64, 99, 16410, -0.25, 0.25)',
      'print(json.dumps({"u32": out, "uniform": [float(v) for v in u]}))',
    ].join('\n');
    const out = spawnSync('python3', ['-c', py], { encoding: 'utf8' });
    expect(out.stderr).toBe('');
    const got = JSON.parse(out.stdout) as { u32: number[][]; uniform: number[] };
    expect(got.u32).toEqual(cases.map(([s, st, ix]) => ix.map((i) => randU32(s, st, i))));
    expect(got.uniform).toEqual(Array.from(randomArray(64, 99, 16410, { kind: 'uniform', lo: -0.25, hi: 0.25 })));
  });

  it.skipIf(!haveNumpy)('scripts/nola_delta.py rebuilds ΔW of every layer from the files alone (NumPy)', async () => {
    const { ctx } = gpu();
    const run = testRun(ctx, made, 'nola', cfg, targets, { perturb: 400, seed: 4242 });
    const dir = mkdtempSync(join(tmpdir(), 'rankscope-nola-'));
    try {
      await writeFilesToFolder(dir, await exportAdapterFiles(run, info));
      const merged = readSafetensors((await exportMergedFiles(run, info)).get('model.safetensors')!).tensors;
      const failures: string[] = [];
      for (const module of ['vit.encoder.layer.0.attention.attention.query', 'vit.encoder.layer.0.intermediate.dense', 'vit.encoder.layer.1.output.dense']) {
        const out = spawnSync('python3', ['scripts/nola_delta.py', dir, '--layer', module, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
        expect(out.stderr).toBe('');
        expect(out.status).toBe(0);
        const { shape, delta } = JSON.parse(out.stdout) as { shape: number[]; delta: number[] };
        const W0 = made.tensors.get(`${module}.weight`)!;
        expect(shape).toEqual(W0.shape);
        const got = Float64Array.from(merged.get(`${module}.weight`)!.data, (v, i) => v - W0.data[i]);
        const err = maxAbsDiff(got, delta) / maxAbs(delta);
        if (!(maxAbs(delta) > 1e-4 && err < 1e-4)) failures.push(`${module}: |ΔW| ${maxAbs(delta)}, relative error ${err}`);
      }
      expect(failures).toEqual([]);
      // Without --layer it lists every layer (and verifies every layer's bases).
      const all = spawnSync('python3', ['scripts/nola_delta.py', dir], { encoding: 'utf8' });
      expect(all.status).toBe(0);
      expect(all.stdout.trim().split('\n')).toHaveLength(8);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      run.release();
    }
  });
});
