/**
 * Real-size photos in the page: a picked folder of 12-megapixel JPEGs laid out as train/ and val/
 * class folders, some stored sideways with an EXIF orientation as phones write them. They must
 * load through the decode pool at working size (never held at full size), show upright in the
 * sample grid, validate on the val split, and keep the browser's memory within a budget.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import sharp from 'sharp';
import { browserRss } from './memory';

const W = 4000;
const H = 3000;

/** Quadrants red (top-left), green (top-right), blue (bottom-left), white, as a 12-MP JPEG (made by libvips, fast). */
async function photo(orientation: number | undefined, shade: number): Promise<Buffer> {
  const w = 40;
  const h = 30;
  const px = Buffer.alloc(w * h * 3);
  const colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const c = colours[(y < h / 2 ? 0 : 2) + (x < w / 2 ? 0 : 1)];
      const t = ((x * 7 + y * 13) % 17) - shade;
      for (let k = 0; k < 3; k++) px[3 * (y * w + x) + k] = Math.max(0, Math.min(255, c[k] + t));
    }
  const img = sharp(px, { raw: { width: w, height: h, channels: 3 } }).resize(W, H, { kernel: 'nearest' }).jpeg({ quality: 85 });
  return orientation ? img.withMetadata({ orientation }).toBuffer() : img.toBuffer();
}

test('a folder of 12-MP photos with EXIF rotation loads upright, at working size, within memory', async ({ page }) => {
  test.setTimeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), 'rankscope-photos-'));
  const root = join(dir, 'phone-photos');
  try {
    // Two classes; the second photo of each class is stored sideways (EXIF 6: turn 90° clockwise to view).
    const files: Array<[string, number | undefined]> = [
      ['train/cats/a.jpg', undefined],
      ['train/cats/b.jpg', 6],
      ['train/cats/c.jpg', undefined],
      ['train/dogs/a.jpg', undefined],
      ['train/dogs/b.jpg', 6],
      ['train/dogs/c.jpg', undefined],
      ['val/cats/v.jpg', 6],
      ['val/dogs/v.jpg', undefined],
    ];
    let shade = 0;
    for (const [rel, orientation] of files) {
      mkdirSync(join(root, rel, '..'), { recursive: true });
      writeFileSync(join(root, rel), await photo(orientation, shade++));
    }

    // The offline demo's small model (28 px input) loads first, so photos are kept at its working
    // size; its own data set is then replaced by the dropped folder.
    await page.goto('/?e2e');
    await expect(page.getByTestId('demo-run')).toBeEnabled({ timeout: 120_000 });
    const input = page.getByTestId('dataset-folder-input');
    await expect(input).toBeEnabled({ timeout: 60_000 });
    const before = browserRss();
    let peak = before ?? 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, browserRss() ?? 0);
    }, 100);
    await input.setInputFiles(root);
    await expect(page.getByTestId('dataset-images')).toHaveText('8', { timeout: 240_000 });
    clearInterval(sampler);

    // Held in OPFS at the model's working size, not in the tab's memory.
    await expect(page.getByTestId('dataset-held')).toHaveAttribute('data-where', 'disk');
    await expect(page.getByTestId('dataset-held')).toContainText('shortest edge 28 px');

    // Trained on train/, validated on val/; the validation fraction does not apply.
    await expect(page.getByTestId('validation-split')).toContainText('val');
    await expect(page.getByTestId('val-fraction')).toBeDisabled();
    await expect(page.getByTestId('train-total')).toHaveText('6');

    // Upright in the sample grid: sideways-stored photos show as portraits, their stored
    // top-left (red) at the top right.
    const thumbs = await page.getByTestId('sample-thumb').evaluateAll((cs) =>
      cs.map((c) => {
        const canvas = c as HTMLCanvasElement;
        const g = canvas.getContext('2d')!;
        const px = (x: number, y: number) => Array.from(g.getImageData(Math.floor(x * canvas.width), Math.floor(y * canvas.height), 1, 1).data.slice(0, 3));
        return { width: canvas.width, height: canvas.height, topLeft: px(0.1, 0.1), topRight: px(0.9, 0.1) };
      }),
    );
    expect(thumbs).toHaveLength(6);
    const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) < 60);
    const portraits = thumbs.filter((t) => t.height > t.width);
    const landscapes = thumbs.filter((t) => t.width > t.height);
    expect(portraits).toHaveLength(2);
    expect(landscapes).toHaveLength(4);
    for (const t of portraits) {
      expect(near(t.topLeft, [0, 0, 255])).toBe(true);
      expect(near(t.topRight, [255, 0, 0])).toBe(true);
    }
    for (const t of landscapes) {
      expect(near(t.topLeft, [255, 0, 0])).toBe(true);
      expect(near(t.topRight, [0, 255, 0])).toBe(true);
    }

    // A short run trains on them: batches are made from the images held in OPFS.
    const runId = await page.evaluate(() => window.__rankscope!.queue({ steps: 3, batchSize: 4, evalEvery: 100, logEvery: 1, warmupSteps: 0 }));
    await expect(page.locator(`[data-testid=run][data-run-id="${runId}"]`)).toHaveAttribute('data-state', 'done', { timeout: 120_000 });

    // Eight 12-MP photos held at full size would be 8 × 48 MB of RGBA before any copy (the loader
    // before decode-to-working-size took ~69 MB per photo). Decoded to working size, the browser's
    // growth stays far below that.
    if (before !== undefined && before > 0) {
      const grew = (peak - before) / 2 ** 20;
      const note = `browser RSS ${Math.round(before / 2 ** 20)} MB before, peak +${Math.round(grew)} MB while loading 8 photos`;
      test.info().annotations.push({ type: 'memory', description: note });
      console.log(note);
      expect(grew).toBeLessThan(450);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
