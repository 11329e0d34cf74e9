/**
 * The playground as a person uses it: load a tiny model and a small Fashion-MNIST set, queue LoRA
 * and RandLoRA with matched settings, watch them train, compare them, reload and find the runs
 * still there. Fixtures are made here: a seeded tiny ViT in Hugging Face layout (scripts/make-model.ts)
 * and 200 Fashion-MNIST test images as IDX files, served to the page (and its worker) by route
 * interception.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test, expect, type Page, type TestInfo } from '@playwright/test';

const ARTIFACTS = 'e2e-artifacts';
const FASHION = '/usr/share/datasets/fashion-mnist';
const IMAGES = 200;

async function screenshot(page: Page, testInfo: TestInfo, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const body = await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
  await testInfo.attach(name, { body, contentType: 'image/png' });
}

function idxHeader(magic: number, dims: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
}

/** The first `n` Fashion-MNIST test images and labels, written as an uncompressed IDX "train" split. */
function writeFashionSubset(dir: string, n: number): string[] {
  mkdirSync(dir, { recursive: true });
  const images = gunzipSync(readFileSync(join(FASHION, 't10k-images-idx3-ubyte.gz')));
  const labels = gunzipSync(readFileSync(join(FASHION, 't10k-labels-idx1-ubyte.gz')));
  const files = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'];
  writeFileSync(join(dir, files[0]), Buffer.concat([idxHeader(0x803, [n, 28, 28]), images.subarray(16, 16 + n * 784)]));
  writeFileSync(join(dir, files[1]), Buffer.concat([idxHeader(0x801, [n]), labels.subarray(8, 8 + n)]));
  return files;
}

let fixtures: string;
let datasetFiles: string[];

test.beforeAll(() => {
  fixtures = mkdtempSync(join(tmpdir(), 'rankscope-e2e-'));
  const made = spawnSync(
    process.execPath,
    ['scripts/run-ts.mjs', 'scripts/make-model.ts', '--arch', 'vit', '--preset', 'tiny', '--labels', '10', '--seed', '1', '--out', join(fixtures, 'model')],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`make-model failed: ${made.stderr || made.stdout}`);
  datasetFiles = writeFashionSubset(join(fixtures, 'fashion-mnist'), IMAGES);
});

test.afterAll(() => {
  if (fixtures) rmSync(fixtures, { recursive: true, force: true });
});

/** Serves the fixture folder under /e2e-fixtures/ to the page and its worker. */
async function serveFixtures(page: Page) {
  await page.context().route('**/e2e-fixtures/**', async (route) => {
    const rel = decodeURIComponent(new URL(route.request().url()).pathname.replace(/^\/e2e-fixtures\//, ''));
    const path = normalize(join(fixtures, rel));
    if (!path.startsWith(fixtures) || !existsSync(path)) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({ status: 200, body: readFileSync(path), contentType: 'application/octet-stream' });
  });
}

/** The runs panel, driven through the e2e hook until the model and data panels are in place. */
async function loadModelAndData(page: Page) {
  await page.waitForFunction(() => window.__rankscope !== undefined);
  const model = await page.evaluate((base) => window.__rankscope!.loadModel(base).then((m) => ({ family: m.family, layers: m.layers })), `${new URL(page.url()).origin}/e2e-fixtures/model`);
  expect(model).toEqual({ family: 'vit', layers: 2 });
  const data = await page.evaluate(
    ([base, files]) => window.__rankscope!.loadDataset(base, files, { valFraction: 0.2, seed: 0, trainLimit: 120, valLimit: 40 }),
    [`${new URL(page.url()).origin}/e2e-fixtures/fashion-mnist`, datasetFiles] as const,
  );
  expect(data.classNames).toContain('Ankle boot');
  // A tiny, quick run: SwiftShader trains on the CPU.
  await page.evaluate(() => window.__rankscope!.setTrain({ steps: 6, batchSize: 8, logEvery: 1, evalEvery: 3, warmupSteps: 1 }));
  return { valImages: data.valCounts.reduce((a, b) => a + b, 0) };
}

/** Lines that recharts drew with a real path, per chart. */
async function drawnLines(page: Page, chart: string): Promise<number> {
  return page
    .getByTestId(chart)
    .locator('.run-line path.recharts-line-curve')
    .evaluateAll((paths) => paths.filter((p) => (p.getAttribute('d') ?? '').length > 10).length);
}

test('queue LoRA vs RandLoRA, watch them train, compare them, and find them again after a reload', async ({ page }, testInfo) => {
  test.setTimeout(240_000);
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));

  await serveFixtures(page);
  await page.goto('/?e2e');
  const panel = page.getByTestId('runs-panel');
  await expect(panel).toBeVisible();
  await expect(page.getByTestId('queue-waiting')).toBeVisible();
  const { valImages } = await loadModelAndData(page);
  await expect(page.getByTestId('queue-waiting')).toHaveCount(0);

  // One click queues the comparison; leave full fine-tuning out to keep the test short.
  await page.getByTestId('compare-include-full').uncheck();
  await expect(page.getByTestId('queue-comparison')).toHaveText('Queue LoRA vs RandLoRA');
  await page.getByTestId('queue-comparison').click();

  const runs = page.getByTestId('run');
  await expect(runs).toHaveCount(2);
  await expect(runs.nth(0).getByTestId('run-name')).toContainText('LoRA r=8');
  await expect(runs.nth(1).getByTestId('run-name')).toContainText('RandLoRA r=32');

  // The page stays responsive while the worker trains: a control reacts at once.
  await expect(page.locator('[data-testid=run][data-state=training]')).toHaveCount(1, { timeout: 60_000 });
  const slider = page.getByTestId('smoothing');
  const before = Date.now();
  await slider.fill('0.3');
  await expect(page.getByTestId('smoothing-value')).toHaveText('0.30', { timeout: 2_000 });
  const reactMs = Date.now() - before;
  testInfo.annotations.push({ type: 'control reaction during training', description: `${reactMs} ms` });
  const frameGap = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const t0 = performance.now();
        requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
      }),
  );
  expect(frameGap).toBeLessThan(1_000);
  await screenshot(page, testInfo, 'playground-training');

  await expect(page.locator('[data-testid=run][data-state=done]')).toHaveCount(2, { timeout: 180_000 });

  // One line per run in every chart, the rank chart included.
  for (const chart of ['loss-chart', 'accuracy-chart', 'throughput-chart', 'rank-chart']) {
    await expect.poll(() => drawnLines(page, chart), { message: `${chart} draws one line per run` }).toBe(2);
  }
  // The loss chart also draws each run's raw values, faintly.
  expect(await page.getByTestId('loss-chart').locator('.run-line-raw path.recharts-line-curve').count()).toBe(2);
  await expect(page.getByTestId('loss-chart').locator('.recharts-legend-item')).toHaveCount(2);

  // The rank table: LoRA's update stops at r = 8, RandLoRA's reaches further.
  const ranks = await page.getByTestId('rank-numerical').allInnerTexts();
  expect(ranks).toHaveLength(2);
  const [loraRank, randRank] = ranks.map((t) => Number(t.split(' of ')[0]));
  expect(loraRank).toBeGreaterThan(0);
  expect(loraRank).toBeLessThanOrEqual(8);
  expect(randRank).toBeGreaterThan(loraRank);

  // The comparison table holds numbers for both runs.
  const rows = page.getByTestId('comparison-row');
  await expect(rows).toHaveCount(2);
  for (let i = 0; i < 2; i++) {
    const row = rows.nth(i);
    await expect(row.getByTestId('cell-best')).toHaveText(/^\d+(\.\d)?%$/);
    await expect(row.getByTestId('cell-final')).toHaveText(/^\d+(\.\d)?%$/);
    await expect(row.getByTestId('cell-params')).toHaveText(/\d/);
    await expect(row.getByTestId('cell-time')).toHaveText(/^\d+(\.\d+)? (ms|s)$/);
    await expect(row.getByTestId('cell-memory')).toHaveText(/^\d+(\.\d+)? (B|KiB|MiB|GiB)$/);
  }
  // Per-class accuracy and the confusion matrix of the selected run: 10 classes, every validation image once.
  await expect(page.getByTestId('per-class-accuracy').locator('tbody tr')).toHaveCount(10);
  const cells = await page.getByTestId('confusion-matrix').locator('tbody td').allInnerTexts();
  expect(cells).toHaveLength(100);
  expect(cells.reduce((a, c) => a + Number(c), 0)).toBe(valImages);
  await screenshot(page, testInfo, 'playground-finished');

  // Finished runs survive a reload, and a person can delete one.
  await page.reload();
  await expect(runs).toHaveCount(2);
  await expect(page.locator('[data-testid=run] .tag-saved')).toHaveCount(2);
  await expect.poll(() => drawnLines(page, 'rank-chart')).toBe(2);
  await expect(page.getByTestId('comparison-row')).toHaveCount(2);
  await runs.nth(0).getByTestId('run-delete').click();
  await expect(runs).toHaveCount(1);
  await page.reload();
  await expect(runs).toHaveCount(1);
  await expect(runs.nth(0).getByTestId('run-name')).toContainText('RandLoRA');
  await screenshot(page, testInfo, 'playground-restored');
  await runs.nth(0).getByTestId('run-delete').click();
  await expect(page.getByTestId('runs-empty')).toBeVisible();

  expect(problems).toEqual([]);
});
