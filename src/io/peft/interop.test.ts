/**
 * The exports loaded by the real libraries: PEFT's PeftModel.from_pretrained on the adapter and
 * transformers' from_pretrained on the merged model must compute our logits. Needs a Python with
 * torch, transformers and peft, named by RANKSCOPE_PYTHON (skipped otherwise; see
 * docs/peft-export.md for a local setup). scripts/peft_interop.py does the Python side.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { hfJson, makeModel } from '../../models/makeModel';
import { useGpu } from '../../testing/gpu';
import { writeFilesToFolder } from '../node';
import { readSafetensors, writeSafetensors } from '../safetensors';
import { exportAdapterFiles } from './exportAdapter';
import { exportMergedFiles } from './exportMerged';
import { TRAIN_SCRIPT } from './continuation';
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

/** Four small PNGs per class in class folders, named as train_peft.py expects. */
function imageFolder(dir: string, labels: readonly string[], size: number): void {
  labels.forEach((label, c) => {
    const sub = join(dir, label.replace(/[/\\:*?"<>|]/g, '_'));
    mkdirSync(sub, { recursive: true });
    for (let i = 0; i < 4; i++) {
      const png = new pngjs.PNG({ width: size + i, height: size });
      for (let p = 0; p < png.data.length; p += 4) png.data.set([(40 * c + 7 * i + p) % 256, (90 * c + p / 4) % 256, 30 * c, 255], p);
      writeFileSync(join(sub, `${i}.png`), pngjs.PNG.sync.write(png));
    }
  });
}

describe.skipIf(!ready)('train_peft.py continues an export with PEFT and Trainer (RANKSCOPE_PYTHON)', () => {
  it.each([
    ['lora', { r: 4, alpha: 8, rslora: false }, ['query', 'value']],
    ['randlora', { r: 6, alpha: 24 }, ['query', 'intermediate.dense']],
    ['nola', { rank: 2, ka: 8, kb: 8, c: 2, init: 'nola' }, ['query', 'value']],
  ] as const)('%s: a few steps from the exported adapter (NOLA: from the merged checkpoint; LoRA under accelerate launch, 2 processes)', async (method, cfg, targets) => {
    const { ctx } = gpu();
    const made = makeModel({ arch: 'vit', preset: 'micro', seed: 9, init: 'varied', labels: 5 });
    const dir = mkdtempSync(join(tmpdir(), `rankscope-continue-${method}-`));
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
      await writeFilesToFolder(join(dir, 'adapter'), await exportAdapterFiles(run, info));
      await writeFilesToFolder(join(dir, 'merged'), await exportMergedFiles(run, info));
      run.release();
      imageFolder(join(dir, 'images'), LABELS, made.spec.imageSize + 3);
      const out = join(dir, 'out');
      const args = [join(dir, 'adapter', TRAIN_SCRIPT), '--data', join(dir, 'images'), '--steps', '3', '--warmup-steps', '1', '--lr', '1e-2', '--batch-size', '4', '--eval-every', '3', '--log-every', '1', '--workers', '0', '--output', out, '--merge'];
      if (method === 'nola') args.push('--merged', join(dir, 'merged'));
      // LoRA runs as a cluster would: `accelerate launch` with two processes (CPU, gloo), so DDP is exercised.
      const launch = method === 'lora' ? ['-m', 'accelerate.commands.launch', '--cpu', '--num_processes', '2', '--num_machines', '1', '--mixed_precision', 'no', '--dynamo_backend', 'no'] : [];
      const res = spawnSync(python!, [...launch, ...args], { encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, CUDA_VISIBLE_DEVICES: '' } });
      expect(res.status, `${res.stdout}\n${res.stderr}`).toBe(0);
      const summary = JSON.parse(readFileSync(join(out, 'continued.json'), 'utf8')) as Record<string, number>;
      console.log(`train_peft.py ${method}: ${JSON.stringify(summary)}`);
      expect(summary.steps).toBe(3);
      expect(summary.train_images + summary.val_images).toBe(12);
      expect(summary.val_images).toBe(3);
      expect(summary.eval_accuracy).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(summary.eval_loss)).toBe(true);
      // Training moved the trainables away from the exported values (the head always trains).
      // (Copied out of Node's Buffer: decodeToF32's bytes.slice() shares a Buffer's memory instead of copying.)
      const read = (p: string) => readSafetensors(new Uint8Array(readFileSync(p))).tensors;
      const before = read(method === 'nola' ? join(dir, 'merged', 'model.safetensors') : join(dir, 'adapter', 'adapter_model.safetensors'));
      const after = read(join(out, 'adapter_model.safetensors'));
      const moved = [...after].filter(([k, t]) => {
        const old = before.get(k) ?? before.get(k.replace('.modules_to_save.default', '')) ?? before.get(k.replace(/^base_model\.model\./, ''));
        return old && old.data.length === t.data.length && maxAbsDiff(Array.from(old.data), Array.from(t.data)) > 1e-6;
      });
      console.log(`train_peft.py ${method}: ${moved.length} of ${after.size} saved tensors changed (${moved.map(([k]) => k.split('.').slice(-3).join('.')).join(', ')})`);
      expect(moved.length).toBeGreaterThan(0);
      if (method !== 'nola') expect(moved.some(([k]) => !k.includes('classifier'))).toBe(true);
      expect(existsSync(join(out, 'merged', 'model.safetensors'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
