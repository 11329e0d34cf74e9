/**
 * The playground as a person uses it: pick a tiny model folder and a small Fashion-MNIST folder,
 * set a short training, queue LoRA vs RandLoRA in one click, watch them train while the page
 * stays responsive, compare them, pause/resume/stop a run, see a failed run explained, reload and
 * find the finished runs still there. Fixtures are made here: a seeded tiny ViT in Hugging Face
 * layout (scripts/make-model.ts, through e2e/fixtures/hub.ts) and 200 Fashion-MNIST test images
 * as IDX files in a folder named fashion-mnist (so the classes get Fashion-MNIST's names).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test, expect, type Page, type TestInfo } from '@playwright/test';
import { tinyModel } from './fixtures/hub';

const ARTIFACTS = 'e2e-artifacts';
const FASHION = '/usr/share/datasets/fashion-mnist';
const IMAGES = 200;

async function screenshot(page: Page, testInfo: TestInfo, name: string, testId?: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}/${name}.png`;
  const body = testId ? await page.getByTestId(testId).screenshot({ path }) : await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { body, contentType: 'image/png' });
}

function idxHeader(magic: number, dims: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
}

/** The first `n` Fashion-MNIST test images and labels, written as an uncompressed IDX "train" split. */
function writeFashionSubset(dir: string, n: number): void {
  mkdirSync(dir, { recursive: true });
  const images = gunzipSync(readFileSync(join(FASHION, 't10k-images-idx3-ubyte.gz')));
  const labels = gunzipSync(readFileSync(join(FASHION, 't10k-labels-idx1-ubyte.gz')));
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), Buffer.concat([idxHeader(0x803, [n, 28, 28]), images.subarray(16, 16 + n * 784)]));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), Buffer.concat([idxHeader(0x801, [n]), labels.subarray(8, 8 + n)]));
}

let tmp: string;
let modelDir: string;
let dataDir: string;

test.beforeAll(() => {
  modelDir = tinyModel();
  tmp = mkdtempSync(join(tmpdir(), 'rankscope-e2e-runs-'));
  dataDir = join(tmp, 'fashion-mnist');
  writeFashionSubset(dataDir, IMAGES);
});

test.afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Model, data and a short training, through the model, data and method panels. */
async function setUp(page: Page): Promise<{ valImages: number }> {
  await expect(page.getByTestId('model-gpu-wait')).toHaveCount(0, { timeout: 60_000 });
  await page.getByTestId('model-folder-input').setInputFiles(modelDir);
  await expect(page.getByTestId('model-summary')).toBeVisible();
  await expect(page.getByTestId('model-fact-layers')).toContainText('2 transformer blocks');

  await expect(page.getByTestId('dataset-folder-input')).toBeEnabled();
  await page.getByTestId('dataset-folder-input').setInputFiles(dataDir);
  await expect(page.getByTestId('dataset-images')).toHaveText(String(IMAGES));
  await expect(page.getByTestId('class-count').first()).toHaveAttribute('data-class', 'T-shirt/top');
  const valImages = Number(await page.getByTestId('val-total').innerText());
  expect(valImages).toBeGreaterThan(0);

  // A tiny, quick run: SwiftShader trains on the CPU.
  for (const [field, value] of [
    ['steps', '6'],
    ['batchSize', '8'],
    ['warmupSteps', '1'],
    ['evalEvery', '3'],
  ]) {
    await page.getByTestId(`train-field-${field}`).fill(value);
  }
  return { valImages };
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

  await page.goto('/?e2e&nodemo');
  await expect(page.getByTestId('runs-panel')).toBeVisible();
  await expect(page.getByTestId('runs-empty')).toBeVisible();
  await expect(page.getByTestId('queue-waiting')).toContainText('a model');
  await expect(page.getByTestId('queue-comparison')).toBeDisabled();
  const { valImages } = await setUp(page);
  await expect(page.getByTestId('queue-waiting')).toHaveCount(0);
  await expect(page.getByTestId('compare-controls')).toContainText('Matched settings: 6 steps, batch 8, seed 0, 1 warmup step then cosine decay');

  // The rank chart will follow the second block's value projection.
  const layer = 'vit.encoder.layer.1.attention.attention.value';
  await page.getByTestId('rank-layer-select').selectOption(layer);

  // One click queues the comparison; leave full fine-tuning out to keep the test short.
  await page.getByTestId('compare-include-full').uncheck();
  await expect(page.getByTestId('queue-comparison')).toHaveText('Queue LoRA vs RandLoRA');
  await page.getByTestId('queue-comparison').click();

  const runs = page.getByTestId('run');
  await expect(runs).toHaveCount(2);
  await expect(runs.nth(0).getByTestId('run-name')).toHaveText('LoRA r=8 · lr 5e-3');
  await expect(runs.nth(1).getByTestId('run-name')).toHaveText('RandLoRA r=32 · lr 5e-3');

  // The page stays responsive while the worker trains: a control reacts at once, frames keep coming.
  await expect(page.locator('[data-testid=run][data-state=training]')).toHaveCount(1, { timeout: 60_000 });
  const before = Date.now();
  await page.getByTestId('smoothing').fill('0.3');
  await expect(page.getByTestId('smoothing-value')).toHaveText('0.30', { timeout: 2_000 });
  testInfo.annotations.push({ type: 'control reaction during training', description: `${Date.now() - before} ms` });
  const frameGap = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const t0 = performance.now();
        requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
      }),
  );
  expect(frameGap).toBeLessThan(1_000);
  await screenshot(page, testInfo, 'runs-panel-training', 'runs-panel');

  await expect(page.locator('[data-testid=run][data-state=done]')).toHaveCount(2, { timeout: 180_000 });

  // One line per run in every chart, the rank chart included.
  for (const chart of ['loss-chart', 'accuracy-chart', 'throughput-chart', 'rank-chart']) {
    await expect.poll(() => drawnLines(page, chart), { message: `${chart} draws one line per run` }).toBe(2);
  }
  // The loss chart also draws each run's raw values, faintly; the legend names each run once.
  expect(await page.getByTestId('loss-chart').locator('.run-line-raw path.recharts-line-curve').count()).toBe(2);
  await expect(page.getByTestId('loss-chart').locator('.recharts-legend-item')).toHaveCount(2);

  // The rank chart shows both spectra of the chosen layer: LoRA's stops at r = 8, RandLoRA's reaches further.
  await expect(page.getByTestId('rank-chart')).toContainText(layer);
  await expect(page.getByTestId('rank-row')).toHaveCount(2);
  const ranks = await page.getByTestId('rank-numerical').allInnerTexts();
  const [loraRank, randRank] = ranks.map((t) => Number(t.split(' of ')[0]));
  expect(loraRank).toBeGreaterThan(0);
  expect(loraRank).toBeLessThanOrEqual(8);
  expect(randRank).toBeGreaterThan(loraRank);
  testInfo.annotations.push({ type: 'numerical rank of ΔW', description: ranks.join(' / ') });

  // The comparison table holds numbers for both runs.
  const rows = page.getByTestId('comparison-row');
  await expect(rows).toHaveCount(2);
  for (let i = 0; i < 2; i++) {
    const row = rows.nth(i);
    await expect(row.getByTestId('cell-best')).toHaveText(/^\d+(\.\d)?%$/);
    await expect(row.getByTestId('cell-final')).toHaveText(/^\d+(\.\d)?%$/);
    await expect(row.getByTestId('cell-params')).toHaveText(/^[\d,]+$/);
    await expect(row.getByTestId('cell-time')).toHaveText(/^\d+(\.\d+)? (ms|s)$/);
    await expect(row.getByTestId('cell-memory')).toHaveText(/^\d+(\.\d+)? (B|KiB|MiB|GiB)$/);
  }
  // Per-class accuracy and the confusion matrix of the selected run: 10 classes, every validation image once.
  await expect(page.getByTestId('per-class-accuracy').locator('tbody tr')).toHaveCount(10);
  const cells = await page.getByTestId('confusion-matrix').locator('tbody td').allInnerTexts();
  expect(cells).toHaveLength(100);
  expect(cells.reduce((a, c) => a + Number(c), 0)).toBe(valImages);
  await page.getByTestId('breakdown-run').selectOption({ label: 'LoRA r=8 · lr 5e-3' });
  await expect(page.getByTestId('class-breakdown')).toContainText("LoRA's final accuracy");
  await screenshot(page, testInfo, 'playground-finished');
  await screenshot(page, testInfo, 'runs-panel-finished', 'runs-panel');

  // Each finished run offers its PEFT adapter and merged model as zip downloads.
  const loraRun = page.getByTestId('run').filter({ hasText: 'LoRA r=8' }).first();
  const [adapterDownload] = await Promise.all([page.waitForEvent('download'), loraRun.getByTestId('export-adapter').click()]);
  const adapterZip = readFileSync(await adapterDownload.path());
  expect(adapterZip.subarray(0, 2).toString('latin1')).toBe('PK');
  expect(adapterZip.includes(Buffer.from('adapter_config.json'))).toBe(true);
  expect(adapterZip.includes(Buffer.from('adapter_model.safetensors'))).toBe(true);
  const [mergedDownload] = await Promise.all([page.waitForEvent('download'), loraRun.getByTestId('export-merged').click()]);
  const mergedZip = readFileSync(await mergedDownload.path());
  expect(mergedZip.includes(Buffer.from('model.safetensors'))).toBe(true);
  expect(mergedZip.includes(Buffer.from('config.json'))).toBe(true);

  // Pause, resume and stop a longer run of the method panel's settings.
  await page.getByTestId('train-field-steps').fill('60');
  await page.getByTestId('queue-current').click();
  const third = runs.nth(2);
  await expect(third).toHaveAttribute('data-state', 'training', { timeout: 60_000 });
  await third.getByTestId('run-pause').click();
  await expect(third).toHaveAttribute('data-state', 'paused');
  // The step in flight when Pause was clicked still finishes (and an evaluation due after it); then nothing moves.
  const stepText = () => third.getByTestId('run-step').innerText();
  let pausedAt = await stepText();
  for (let settled = 0, waited = 0; settled < 2; waited++) {
    expect(waited, 'a paused run stops advancing within 20 s').toBeLessThan(20);
    await page.waitForTimeout(1_000);
    const now = await stepText();
    settled = now === pausedAt ? settled + 1 : 0;
    pausedAt = now;
  }
  await page.waitForTimeout(2_000);
  expect(await stepText()).toBe(pausedAt);
  await expect(third).toHaveAttribute('data-state', 'paused');
  await third.getByTestId('run-resume').click();
  await expect(third).toHaveAttribute('data-state', 'training');
  await third.getByTestId('run-stop').click();
  // A stopped run still evaluates, and its numbers join the comparison.
  await expect(third).toHaveAttribute('data-state', 'stopped', { timeout: 60_000 });
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(2)).toContainText('stopped early');

  // A run that fails in the worker says why and what to do (queued through the test hook, since
  // the method panel refuses 0 steps before a run could start).
  await page.evaluate(() => window.__rankscope!.queue({ steps: 0 }));
  const failed = runs.nth(3);
  await expect(failed).toHaveAttribute('data-state', 'failed', { timeout: 60_000 });
  await expect(failed.getByTestId('run-error')).toContainText('steps, batch size and accumulation must be at least 1');
  await expect(failed.getByTestId('run-error')).toContainText('fix the value named above in the method panel');
  await screenshot(page, testInfo, 'run-list-failed', 'run-list');
  await failed.getByTestId('run-delete').click();
  await expect(runs).toHaveCount(3);

  // Finished runs survive a reload, and a person can delete one.
  await page.reload();
  await expect(runs).toHaveCount(3);
  await expect(page.locator('[data-testid=run] .tag-saved')).toHaveCount(3);
  await expect.poll(() => drawnLines(page, 'rank-chart')).toBe(3);
  await expect(page.getByTestId('comparison-row')).toHaveCount(3);
  await runs.nth(0).getByTestId('run-delete').click();
  await expect(runs).toHaveCount(2);
  await page.reload();
  await expect(runs).toHaveCount(2);
  await expect(runs.nth(0).getByTestId('run-name')).toHaveText('RandLoRA r=32 · lr 5e-3');
  await screenshot(page, testInfo, 'playground-restored');
  for (let n = 2; n > 0; n--) {
    await runs.nth(0).getByTestId('run-delete').click();
    await expect(runs).toHaveCount(n - 1);
  }
  await expect(page.getByTestId('runs-empty')).toBeVisible();

  expect(problems).toEqual([]);
});
