/**
 * Rankscope's image path against Pillow's: photos decoded (EXIF applied, grey, CMYK, palette and
 * alpha handled), kept at working size, then resized and cropped as the ViT, CLIP and DeiT image
 * processors do, compared with what scripts/make-preprocess-fixtures.py had Pillow make of the same
 * files. Two paths are checked: the full-size decode straight into the processor (the resize itself
 * must match Pillow to the bit wherever the decoders agree) and the path training takes (decode to
 * working size first), which must stay within 1/255 mean absolute difference per value.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imagePreprocessing } from '../preprocessor';
import { processorInput, workingEdge } from '../../train/data';
import type { Image8 } from '../../train/resample';
import { decodeImageNode } from './decodeNode';
import { toImage8 } from './pack';

const DIR = join(__dirname, 'fixtures', 'preprocess');

interface Manifest {
  configs: Record<string, { size: Record<string, number>; resample: number; crop: { height: number; width: number } | null }>;
  expected: Record<string, { input: string; config: string }>;
}

function planFor(id: string, cfg: Manifest['configs'][string]) {
  const file: Record<string, unknown> = { size: cfg.size, resample: cfg.resample, do_center_crop: !!cfg.crop };
  if (cfg.crop) file.crop_size = cfg.crop;
  return imagePreprocessing({ model_type: id, image_size: 224 }, file);
}

async function expectedPixels(name: string): Promise<Image8> {
  const { data, info } = await sharp(join(DIR, name)).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
}

/** Mean and largest absolute difference per value (RGB, grey expanded), in 0–255 units. */
function difference(ours: Image8, pil: Image8): { mad: number; max: number } {
  expect([ours.width, ours.height]).toEqual([pil.width, pil.height]);
  let sum = 0;
  let max = 0;
  const n = pil.width * pil.height;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const a = ours.data[i * ours.channels + (ours.channels === 1 ? 0 : c)];
      const b = pil.data[i * pil.channels + c];
      const d = Math.abs(a - b);
      sum += d;
      if (d > max) max = d;
    }
  }
  return { mad: sum / (3 * n), max };
}

describe('preprocessing matches Pillow (fixtures from scripts/make-preprocess-fixtures.py)', async () => {
  const manifest = JSON.parse(await readFile(join(DIR, 'manifest.json'), 'utf8')) as Manifest;
  const cases = Object.entries(manifest.expected).map(([out, { input, config }]) => ({ out, input, config }));

  it.each(cases)('$input under $config', async ({ out, input, config }) => {
    const plan = planFor(config, manifest.configs[config]);
    const bytes = new Uint8Array(await readFile(join(DIR, input)));
    const pil = await expectedPixels(out);
    const full = processorInput(toImage8(await decodeImageNode(bytes)), plan);
    const working = processorInput(toImage8(await decodeImageNode(bytes, { edge: workingEdge(plan), resample: plan.resample })), plan);
    const exact = difference(full, pil);
    const held = difference(working, pil);
    // Full-size decode + our resize: Pillow's resize to the bit (the JPEG decoders, both
    // libjpeg-turbo, agree on these files).
    expect(exact.max).toBe(0);
    // The training path (decoded to working size first): within 1/255 per value on average.
    expect(held.mad).toBeLessThan(1);
    console.log(`${out}: full-size MAD ${exact.mad.toFixed(4)} (max ${exact.max}), working-size MAD ${held.mad.toFixed(4)} (max ${held.max})`);
  });
});
