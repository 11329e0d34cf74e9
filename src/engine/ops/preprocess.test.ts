import { describe, expect, it } from 'vitest';
import { useGpu } from '../../testing/gpu';
import { maxRelError } from '../reference/linalg';
import { randU32 } from '../random';
import { augmentBoxes, DEFAULT_CROP, hasAugmentation, preprocessImages, preprocessReference } from './preprocess';

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

describe('augmentation in the preprocessing kernel: random resized crop and horizontal flip', () => {
  const norm = { size: 32, mean: [0.5, 0.4, 0.3], std: [0.5, 0.25, 0.2] } as const;
  const aug = { crop: { scale: [0.2, 1], ratio: [3 / 4, 4 / 3] }, flip: true } as const;

  const cases: Array<[{ batch: number; height: number; width: number; channels: number }, number]> = [
    [{ batch: 4, height: 28, width: 28, channels: 1 }, 32],
    [{ batch: 3, height: 7, width: 45, channels: 3 }, 7],
    [{ batch: 2, height: 65, width: 33, channels: 3 }, 65],
    [{ batch: 5, height: 9, width: 9, channels: 1 }, 1],
  ];
  for (const [dims, size] of cases) {
    it(`crops, resizes ${dims.height}x${dims.width}x${dims.channels} to ${size}² and flips like the float64 reference`, async () => {
      const { ctx } = gpu();
      const n = dims.batch * dims.height * dims.width * dims.channels;
      const pixels = Uint8Array.from({ length: n }, (_, i) => randU32(4, 2, i) & 0xff);
      const boxes = augmentBoxes(aug, dims, Array.from({ length: dims.batch }, (_, i) => 10 * i + 3), 7, 11);
      // Make sure both kinds of image are in the batch.
      boxes[0].flip = true;
      boxes[dims.batch - 1].flip = false;
      const s = { ...norm, size };
      const t = preprocessImages(ctx, pixels, dims, s, undefined, boxes);
      const got = await t.read();
      expect(maxRelError(got, preprocessReference(pixels, dims, s, boxes))).toBeLessThan(1e-5);
      // The crop really changed the pixels: not the plain resize.
      if (size > 1) expect(maxRelError(got, preprocessReference(pixels, dims, s))).toBeGreaterThan(1e-2);
      t.release();
    });
  }

  it('a whole-image box without flip gives the plain resize bit for bit; a flip mirrors every row', async () => {
    const { ctx } = gpu();
    const dims = { batch: 2, height: 13, width: 21, channels: 3 };
    const pixels = Uint8Array.from({ length: 2 * 13 * 21 * 3 }, (_, i) => randU32(5, 5, i) & 0xff);
    const plain = await preprocessImages(ctx, pixels, dims, norm).read();
    const whole = { x: 0, y: 0, width: 21, height: 13 };
    const same = await preprocessImages(ctx, pixels, dims, norm, undefined, [{ ...whole, flip: false }, { ...whole, flip: false }]).read();
    expect(same).toEqual(plain);
    const flipped = await preprocessImages(ctx, pixels, dims, norm, undefined, [{ ...whole, flip: true }, { ...whole, flip: true }]).read();
    const S = norm.size;
    for (let row = 0; row < 2 * 3 * S; row++) {
      for (const x of [0, 5, S - 1]) expect(flipped[row * S + x]).toBe(plain[row * S + (S - 1 - x)]);
    }
    expect(() => preprocessImages(ctx, pixels, dims, norm, undefined, [{ ...whole, flip: false }])).toThrow(/1 crop boxes for 2 images/);
    expect(() => preprocessImages(ctx, pixels, dims, norm, undefined, [{ ...whole, width: 22, flip: false }, { ...whole, flip: false }])).toThrow(
      /crop box 0 \(0, 0, 22x13\) is not inside the 21x13 image/,
    );
  });
});

describe('crop boxes chosen on the CPU', () => {
  const dims = { height: 28, width: 40 };
  const keys = Array.from({ length: 2000 }, (_, i) => i);

  it('stay inside the image, cover the scale range and keep the aspect range, like RandomResizedCrop', () => {
    const boxes = augmentBoxes({ crop: { scale: [0.3, 0.9], ratio: [0.5, 2] } }, dims, keys, 1, 0);
    let fallback = 0;
    for (const b of boxes) {
      expect(b.x >= 0 && b.y >= 0 && b.x + b.width <= 40 && b.y + b.height <= 28).toBe(true);
      expect(b.flip).toBe(false);
      const area = (b.width * b.height) / (28 * 40);
      if (b.width === 40 && b.height === 28) fallback++;
      else {
        // Rounding w and h to whole pixels moves area and ratio a little.
        expect(area).toBeGreaterThan(0.3 * 0.85);
        expect(area).toBeLessThan(0.9 * 1.15);
        expect(b.width / b.height).toBeGreaterThan(0.5 * 0.85);
        expect(b.width / b.height).toBeLessThan(2 * 1.15);
      }
    }
    expect(fallback).toBeLessThan(20);
    const areas = boxes.map((b) => (b.width * b.height) / (28 * 40));
    expect(Math.min(...areas)).toBeLessThan(0.35);
    expect(Math.max(...areas)).toBeGreaterThan(0.8);
    // Crops land all over the image, not only in one corner.
    expect(new Set(boxes.map((b) => b.x)).size).toBeGreaterThan(10);
  });

  it('depend only on seed, step and the image, and flip about half the images', () => {
    const aug = { crop: DEFAULT_CROP, flip: true };
    const a = augmentBoxes(aug, dims, [5, 9, 12], 3, 7);
    expect(augmentBoxes(aug, dims, [12, 5], 3, 7)).toEqual([a[2], a[0]]);
    expect(augmentBoxes(aug, dims, [5, 9, 12], 3, 8)).not.toEqual(a);
    expect(augmentBoxes(aug, dims, [5, 9, 12], 4, 7)).not.toEqual(a);
    const flips = augmentBoxes({ flip: true }, dims, keys, 0, 0);
    const share = flips.filter((b) => b.flip).length / keys.length;
    expect(share).toBeGreaterThan(0.45);
    expect(share).toBeLessThan(0.55);
    // Flip only: whole images.
    expect(flips.every((b) => b.x === 0 && b.y === 0 && b.width === 40 && b.height === 28)).toBe(true);
    // Turning the crop on does not change which images are flipped.
    expect(augmentBoxes(aug, dims, keys, 0, 0).map((b) => b.flip)).toEqual(flips.map((b) => b.flip));
    expect(hasAugmentation({})).toBe(false);
    expect(hasAugmentation({ crop: false, flip: true })).toBe(true);
  });

  it('fall back to a central crop when no box fits, and refuse impossible ranges', () => {
    // A very wide image with tall-only ratios: no try fits, so the central crop at ratio 0.5.
    const b = augmentBoxes({ crop: { scale: [0.99, 1], ratio: [0.5, 0.5] } }, { height: 4, width: 100 }, [0], 0, 0)[0];
    expect(b).toEqual({ x: 49, y: 0, width: 2, height: 4, flip: false });
    expect(() => augmentBoxes({ crop: { scale: [0, 1], ratio: [1, 1] } }, dims, [0], 0, 0)).toThrow(/scale must satisfy 0 < min ≤ max ≤ 1; got \[0, 1\]/);
    expect(() => augmentBoxes({ crop: { scale: [0.5, 1], ratio: [2, 1] } }, dims, [0], 0, 0)).toThrow(/aspect ratio must satisfy/);
  });
});
