/**
 * Opt-in: Rankscope's preprocessing against transformers' own image processors (not only Pillow),
 * when RANKSCOPE_PYTHON names a Python with transformers, Pillow and numpy. Skipped otherwise (CI
 * has no transformers). Each fixture photo under ViT, CLIP and DeiT processors: our pixel values
 * (decode to working size, processor resize and crop, rescale, normalise) must be within 1/255 mean
 * absolute difference per value, in 0–1 pixel units, of the processor's pixel_values.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imagePreprocessing } from '../preprocessor';
import { processorInput, workingEdge } from '../../train/data';
import { decodeImageNode } from './decodeNode';
import { toImage8 } from './pack';

const PYTHON = process.env.RANKSCOPE_PYTHON;
const DIR = join(__dirname, 'fixtures', 'preprocess');

describe.skipIf(!PYTHON)('preprocessing matches transformers’ image processors (RANKSCOPE_PYTHON)', () => {
  it('every fixture under ViT, CLIP and DeiT, within 1/255 per value', async () => {
    const out = mkdtempSync(join(tmpdir(), 'rankscope-hf-'));
    try {
      const run = spawnSync(PYTHON!, [join(__dirname, '..', '..', '..', 'scripts', 'transformers_processors.py'), DIR, out], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8'));
      for (const [id, cfg] of Object.entries(manifest.configs) as Array<[string, { size: unknown; resample: number; crop: unknown }]>) {
        const plan = imagePreprocessing({ model_type: id, image_size: 224 }, { size: cfg.size, resample: cfg.resample, do_center_crop: !!cfg.crop, crop_size: cfg.crop ?? undefined });
        for (const input of Object.keys(manifest.inputs)) {
          const meta = JSON.parse(readFileSync(join(out, `${input}.${id}.json`), 'utf8')) as { shape: number[]; mean: number[]; std: number[] };
          const theirs = new Float32Array(readFileSync(join(out, `${input}.${id}.f32`)).buffer.slice(0));
          const bytes = new Uint8Array(readFileSync(join(DIR, input)));
          const ours = processorInput(toImage8(await decodeImageNode(bytes, { edge: workingEdge(plan), resample: plan.resample })), plan);
          const [C, H, W] = meta.shape;
          expect([H, W]).toEqual([ours.height, ours.width]);
          let sum = 0;
          for (let c = 0; c < C; c++)
            for (let i = 0; i < H * W; i++) {
              const v = ours.data[i * ours.channels + (ours.channels === 1 ? 0 : c)] / 255;
              const t = theirs[c * H * W + i] * meta.std[c] + meta.mean[c];
              sum += Math.abs(v - t);
            }
          expect({ input, id, mad: sum / (C * H * W) < 1 / 255 }).toEqual({ input, id, mad: true });
        }
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);
});
