import { describe, expect, it } from 'vitest';
import { useGpu } from '../../testing/gpu';
import { maxRelError } from '../reference/linalg';
import { randU32 } from '../random';
import { preprocessImages, preprocessReference } from './preprocess';

const gpu = useGpu();

describe('image preprocessing on the GPU', () => {
  const norm = { size: 32, mean: [0.5, 0.4, 0.3], std: [0.5, 0.25, 0.2] } as const;
  for (const dims of [
    { batch: 3, height: 28, width: 28, channels: 1 },
    { batch: 2, height: 7, width: 45, channels: 3 },
  ]) {
    it(`resizes ${dims.height}x${dims.width}x${dims.channels} to ${norm.size}² and normalises like the float64 reference`, async () => {
      const { ctx } = gpu();
      const n = dims.batch * dims.height * dims.width * dims.channels;
      const pixels = Uint8Array.from({ length: n }, (_, i) => randU32(9, 9, i) & 0xff);
      const t = preprocessImages(ctx, pixels, dims, norm);
      const got = await t.read();
      // Bilinear weights and the normalisation are a handful of f32 ops on values ≤ 5: 1e-5 covers it.
      expect(maxRelError(got, preprocessReference(pixels, dims, norm))).toBeLessThan(1e-5);
      expect(t.shape).toEqual([dims.batch, 3, 32, 32]);
      t.release();
    });
  }
});
