/**
 * The exports loaded by the real libraries: PEFT's PeftModel.from_pretrained on the adapter and
 * transformers' from_pretrained on the merged model must compute our logits. Needs a Python with
 * torch, transformers and peft, named by RANKSCOPE_PYTHON (skipped otherwise; see
 * docs/peft-export.md for a local setup). scripts/peft_interop.py does the Python side.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hfJson, makeModel } from '../../models/makeModel';
import { useGpu } from '../../testing/gpu';
import { writeFilesToFolder } from '../node';
import { readSafetensors, writeSafetensors } from '../safetensors';
import { exportAdapterFiles } from './exportAdapter';
import { exportMergedFiles } from './exportMerged';
import { LABELS, logitsOf, maxAbs, maxAbsDiff, testImages, testRun } from './testRun';

const python = process.env.RANKSCOPE_PYTHON;
const ready = !!python && spawnSync(python, ['-c', 'import torch, transformers, peft'], { encoding: 'utf8' }).status === 0;

const gpu = useGpu();

describe.skipIf(!ready)('exports loaded by PEFT and transformers (RANKSCOPE_PYTHON)', () => {
  it.each([
    ['vit', 'lora', { r: 4, alpha: 8, rslora: false }, ['query', 'value']],
    ['vit', 'vera', { r: 8, dInitial: 0.1 }, ['query', 'value', 'intermediate.dense', 'output.dense']],
    ['vit', 'randlora', { r: 6, alpha: 24 }, ['query', 'key', 'intermediate.dense', 'output.dense']],
    ['deit', 'randlora', { r: 4, alpha: 16 }, ['value', 'attention.output.dense']],
    ['clip', 'lora', { r: 2, alpha: 4, rslora: true }, ['q_proj', 'fc2']],
  ] as const)('%s, %s: PeftModel.from_pretrained and the merged checkpoint give our logits', async (arch, method, cfg, targets) => {
    const { ctx } = gpu();
    // The base has its own 5-class head; the run trains a new 3-class one.
    const made = makeModel({ arch, preset: 'micro', seed: 9, init: 'varied', labels: 5 });
    const dir = mkdtempSync(join(tmpdir(), `rankscope-interop-${method}-`));
    try {
      const base = join(dir, 'base');
      await writeFilesToFolder(
        base,
        new Map([
          ['config.json', new TextEncoder().encode(hfJson(made.config))],
          ['preprocessor_config.json', new TextEncoder().encode(hfJson(made.preprocessorConfig))],
          ['model.safetensors', writeSafetensors(made.tensors, { metadata: { format: 'pt' } })],
        ]),
      );
      const run = testRun(ctx, made, method, cfg, [...targets], { perturb: 500 });
      const info = { baseModel: base, labels: LABELS, preprocessor: made.preprocessorConfig };
      const adapterFiles = await exportAdapterFiles(run, info);
      await writeFilesToFolder(join(dir, 'adapter'), adapterFiles);
      await writeFilesToFolder(join(dir, 'merged'), await exportMergedFiles(run, info));
      const S = made.spec.imageSize;
      const pixels = testImages(S);
      await writeFilesToFolder(dir, new Map([['pixels.safetensors', writeSafetensors({ pixel_values: { shape: [2, 3, S, S], data: pixels } })]]));
      const ours = await logitsOf(run, pixels);
      run.release();

      const args = [base, join(dir, 'adapter'), join(dir, 'merged'), join(dir, 'pixels.safetensors'), join(dir, 'reference')];
      const out = spawnSync(python!, ['scripts/peft_interop.py', ...args], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      expect(out.status, out.stderr).toBe(0);
      const got = JSON.parse(out.stdout) as {
        merged: number[];
        peft: number[];
        reference_config: string;
        reference_tensors: Array<[string, number[]]>;
        reference_metadata: Record<string, string>;
        versions: Record<string, string>;
      };
      console.log(`${method}: checked with ${JSON.stringify(got.versions)}`);
      const tol = 1e-4 * Math.max(1, maxAbs(ours));
      expect(maxAbsDiff(got.merged, ours)).toBeLessThan(tol);
      expect(maxAbsDiff(got.peft, ours)).toBeLessThan(tol);

      // PEFT, saving an adapter with our adapter_config.json, writes the same config, byte for byte
      // (target_modules is a set in PEFT: its order is sorted on both sides) …
      expect(new TextDecoder().decode(adapterFiles.get('adapter_config.json'))).toBe(got.reference_config);
      // … and the same tensors, except that PEFT 0.21 also repeats RandLoRA's shared bases under
      // every layer (dropped by huggingface/peft#3714; loading does not need them).
      const ours_ = [...readSafetensors(adapterFiles.get('adapter_model.safetensors')!).tensors].map(([k, t]) => [k, t.shape]).sort();
      const alias = /^base_model\.model\..+\.randlora_[AB]$/;
      expect(ours_).toEqual(got.reference_tensors.filter(([k]) => !alias.test(k)));
      expect(got.reference_metadata).toEqual({ format: 'pt' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
