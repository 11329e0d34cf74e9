/**
 * The page half of the photo benchmark (bench/photos.ts is the CLI half); opt-in, skipped unless
 * RANKSCOPE_PHOTO_BENCH names a folder of class folders of photos (e.g. the one
 * `npm run bench:photos -- --count 1000` made, $TMPDIR/rankscope-photos/set-1000):
 *
 *   RANKSCOPE_PHOTO_BENCH=/tmp/rankscope-photos/set-1000 npm run e2e -- e2e/photos-bench.spec.ts
 *
 * Picks the folder with the folder button after the demo model (28 px) is loaded, and reports the
 * load time, photos per second, the browser's peak memory growth (all its processes' RSS) and the
 * time from picking to the end of a first training step. A benchmark, not a test: it asserts only
 * that the load completes.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { browserRss } from './memory';

const DIR = process.env.RANKSCOPE_PHOTO_BENCH;

test.skip(!DIR, 'set RANKSCOPE_PHOTO_BENCH to a folder of photos to run the page benchmark');

test('page photo benchmark', async ({ page }) => {
  test.setTimeout(3_600_000);
  const count = readdirSync(DIR!, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .reduce((n, d) => n + readdirSync(join(DIR!, d.name)).filter((f) => /\.(jpe?g|png)$/i.test(f)).length, 0);
  await page.goto('/?e2e');
  await expect(page.getByTestId('demo-run')).toBeEnabled({ timeout: 120_000 });
  const input = page.getByTestId('dataset-folder-input');
  await expect(input).toBeEnabled({ timeout: 60_000 });
  const before = browserRss() ?? 0;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, browserRss() ?? 0)), 250);
  const start = Date.now();
  await input.setInputFiles(DIR!);
  await expect(page.getByTestId('dataset-images')).toHaveText(count.toLocaleString('en-US'), { timeout: 3_500_000 });
  const loaded = Date.now();
  const runId = await page.evaluate(() => window.__rankscope!.queue({ steps: 1, batchSize: 8, evalEvery: 100, logEvery: 1, warmupSteps: 0 }));
  await expect(page.locator(`[data-testid=run][data-run-id="${runId}"]`)).toHaveAttribute('data-state', 'done', { timeout: 600_000 });
  const stepped = Date.now();
  clearInterval(sampler);
  const held = await page.getByTestId('dataset-held').textContent();
  const result = {
    photos: count,
    load_s: (loaded - start) / 1000,
    photos_per_s: count / ((loaded - start) / 1000),
    first_step_s: (stepped - start) / 1000,
    browser_rss_before_mib: Math.round(before / 2 ** 20),
    browser_rss_peak_growth_mib: Math.round((peak - before) / 2 ** 20),
    held,
  };
  console.log(JSON.stringify(result));
  test.info().annotations.push({ type: 'bench', description: JSON.stringify(result) });
});
