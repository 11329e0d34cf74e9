/**
 * The lab as one screen, in real headless Chromium: at 1400×900 the setup column (closed
 * sections with one-line summaries) sits beside the results, the page is at most about two
 * screens tall, the GPU badge opens the adapter's limits, sections open from the keyboard, and
 * after the demo button the loss chart and the run list are in view (checked as soon as the runs
 * are queued, without waiting for training). At 390×844 the columns stack. Run files import with
 * their charts and tables marked as imported, export back, and charts download as PNG and SVG,
 * metrics as CSV. Screenshots go to e2e-artifacts/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { test, expect, type Locator, type Page } from '@playwright/test';

async function download(page: Page, click: () => Promise<void>) {
  const [d] = await Promise.all([page.waitForEvent('download'), click()]);
  return { name: d.suggestedFilename(), bytes: readFileSync((await d.path())!) };
}

const ARTIFACTS = 'e2e-artifacts';

async function inViewport(page: Page, target: Locator): Promise<boolean> {
  const box = await target.boundingBox();
  const view = page.viewportSize()!;
  return !!box && box.height > 0 && box.y >= 0 && box.y < view.height && box.x >= 0 && box.x < view.width;
}

/** A run file of two runs, as the page writes them (format 1), with a 3-class result each. */
function runFileFixture(): string {
  const classNames = ['T-shirt/top', 'Trouser', 'Pullover'];
  const run = (id: string, name: string, method: string, color: string, lossScale: number, rank: number) => ({
    id,
    name,
    color,
    state: 'done',
    created_at: '2026-12-01T10:00:00.000Z',
    spec: { id, name, method, methodConfig: method === 'lora' ? { r: 2, alpha: 2, rslora: false } : {}, targets: ['query', 'value'], train: { steps: 20, batchSize: 8 }, rankLayer: 'vit.encoder.layer.0.attention.attention.query' },
    trainable_params: method === 'lora' ? 1234 : 65418,
    model: { name: 'rankscope-vit-fmnist5', fingerprint: { sha256: 'ab'.repeat(32), files: 3, bytes: 270000 } },
    dataset: { name: 'fashion-mnist-heldout', fingerprint: { sha256: 'cd'.repeat(32), files: 4, bytes: 9000 } },
    environment: { adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader Device', isSoftware: true }, browser: 'Chromium (fixture)' },
    metrics: {
      train: Array.from({ length: 10 }, (_, i) => ({ kind: 'train', step: 2 * (i + 1), loss: lossScale / (i + 1), accuracy: 0.3 + i * 0.05, lr: 1e-3, grad_norm: 1, images_per_second: 50 + i, seconds: i })),
      eval: [10, 20].map((step, i) => ({ kind: 'eval', step, val_loss: 1 - i * 0.2, val_accuracy: 0.5 + i * 0.2, seconds: step })),
    },
    spectra: [{ step: 20, spectrum: { module: 'vit.encoder.layer.0.attention.attention.query', rows: 8, cols: 8, singularValues: Array.from({ length: 8 }, (_, i) => (i < rank ? 1 / (i + 1) : 1e-9)), numericalRank: rank, effectiveRank: rank - 0.5, stableRank: 1.5 } }],
    result: { status: 'done', head: 'linear', method, trainable_params: method === 'lora' ? 1234 : 65418, steps: 20, final_val_accuracy: 0.7, best_val_accuracy: 0.7, final_val_loss: 0.6, seconds: 20, seconds_per_step: 1, peak_gpu_bytes: 1 << 20, confusion: [[5, 1, 0], [0, 6, 0], [1, 1, 4]], classNames, perClassAccuracy: [5 / 6, 1, 4 / 6] },
  });
  return JSON.stringify({
    format: 'rankscope-runs',
    format_version: 1,
    exported_at: '2026-12-01T10:05:00.000Z',
    runs: [run('fixture-lora', 'LoRA r=2 (fixture)', 'lora', '#3257d6', 2, 2), run('fixture-full', 'Full (fixture)', 'full', '#d6453d', 1.5, 8)],
  });
}

test('1400×900: setup beside results, GPU badge, keyboard sections, and the demo’s results in view', async ({ page }) => {
  test.setTimeout(480_000);
  mkdirSync(ARTIFACTS, { recursive: true });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto('/');
  await expect(page.getByTestId('demo-run')).toBeEnabled({ timeout: 120_000 });

  // Closed sections say what is chosen in one line.
  await expect(page.getByTestId('section-summary-model')).toContainText('rankscope-vit-fmnist5');
  await expect(page.getByTestId('section-summary-model')).toContainText('params');
  await expect(page.getByTestId('section-summary-data')).toContainText('fashion-mnist-heldout');
  await expect(page.getByTestId('section-summary-method')).toContainText('LoRA r=8');
  await expect(page.getByTestId('section-summary-training')).toContainText('steps');
  for (const id of ['model', 'data', 'method', 'training']) await expect(page.getByTestId(`section-${id}`)).toHaveAttribute('data-open', 'false');

  // At most about two screens tall; setup and results side by side.
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  console.log(`page height at 1400×900 on first load: ${height} px`);
  expect(height).toBeLessThanOrEqual(2 * 900);
  const setup = (await page.getByRole('complementary', { name: 'Setup' }).boundingBox())!;
  const results = (await page.getByRole('region', { name: 'Results' }).boundingBox())!;
  expect(results.x).toBeGreaterThanOrEqual(setup.x + setup.width - 1);
  // A run's controls and the loss chart are visible together.
  expect(await inViewport(page, page.getByTestId('queue-current'))).toBe(true);
  expect(await inViewport(page, page.getByTestId('loss-chart'))).toBe(true);
  await page.screenshot({ path: `${ARTIFACTS}/layout-1400x900.png` });

  // The GPU badge: adapter and kind; it opens the limits and features, Escape closes them.
  const badge = page.getByTestId('gpu-badge');
  await expect(badge).toHaveAttribute('data-state', /hardware|software/);
  if ((await badge.getAttribute('data-state')) === 'software') await expect(page.getByTestId('gpu-badge-warning')).toBeVisible();
  await expect(page.getByTestId('gpu-limits')).toBeHidden();
  await badge.click();
  await expect(page.getByTestId('gpu-limit').filter({ hasText: 'maxStorageBufferBindingSize' })).toBeVisible();
  await expect(page.getByTestId('gpu-feature').first()).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('gpu-limits')).toBeHidden();

  // Sections open and close from the keyboard; the panels inside keep their labelled controls.
  const toggle = page.getByTestId('section-toggle-training');
  await toggle.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('section-training')).toHaveAttribute('data-open', 'true');
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByLabel('Steps', { exact: true })).toBeVisible();
  await page.keyboard.press('Space');
  await expect(page.getByTestId('section-training')).toHaveAttribute('data-open', 'false');

  // The demo queues three runs; the run list and the loss chart are in view right away.
  await page.getByTestId('demo-run').click();
  await expect(page.getByTestId('run')).toHaveCount(3);
  await page.waitForTimeout(800); // let the smooth scroll settle
  expect(await inViewport(page, page.getByTestId('run-list'))).toBe(true);
  expect(await inViewport(page, page.getByTestId('loss-chart'))).toBe(true);
  await page.screenshot({ path: `${ARTIFACTS}/layout-1400x900-demo.png` });

  // A real run's record: stop the queued two, stop LoRA after a few steps (it still evaluates and
  // exports), and its run file carries fingerprints and the environment; its adapter zip the
  // Python continuation.
  const runs = page.getByTestId('run');
  for (const i of [2, 1]) await runs.nth(i).getByTestId('run-stop').click();
  const lora = runs.first();
  await expect.poll(async () => Number(/step (\d+)/.exec((await lora.getByTestId('run-step').innerText().catch(() => '')) ?? '')?.[1] ?? 0), { timeout: 150_000 }).toBeGreaterThanOrEqual(3);
  await lora.getByTestId('run-stop').click();
  await expect(lora).toHaveAttribute('data-state', 'stopped', { timeout: 120_000 });
  const file = JSON.parse((await download(page, () => lora.getByTestId('export-run-file').click())).bytes.toString('utf8'));
  expect(file.runs).toHaveLength(1);
  const [run] = file.runs;
  expect(run.state).toBe('stopped');
  expect(run.model.name).toContain('rankscope-vit-fmnist5');
  expect(run.model.fingerprint.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(run.model.fingerprint.files).toBeGreaterThanOrEqual(2);
  expect(run.dataset.fingerprint.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(run.environment.adapter.vendor).toBeTruthy();
  expect(run.environment.browser).toContain('Chrome');
  expect(run.result.confusion).toHaveLength(5);
  expect(run.metrics.train.length).toBeGreaterThan(0);
  const zip = unzipSync(new Uint8Array((await download(page, () => lora.getByTestId('export-adapter').click())).bytes));
  const names = Object.keys(zip).map((n) => n.split('/').pop());
  expect(names).toEqual(expect.arrayContaining(['train_peft.py', 'requirements.txt', 'rankscope_train.json', 'adapter_config.json']));
  const settings = JSON.parse(new TextDecoder().decode(zip[Object.keys(zip).find((n) => n.endsWith('rankscope_train.json'))!]));
  expect(settings.train).toMatchObject({ steps: 60, batch_size: 16, lr: 5e-3 });
  expect(settings.labels).toHaveLength(5);
  expect(problems).toEqual([]);
});

test('390×844: the areas stack, setup first, results below', async ({ page }) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/');
  await expect(page.getByTestId('demo-run')).toBeEnabled({ timeout: 120_000 });
  const setup = (await page.getByRole('complementary', { name: 'Setup' }).boundingBox())!;
  const results = (await page.getByRole('region', { name: 'Results' }).boundingBox())!;
  expect(results.y).toBeGreaterThanOrEqual(setup.y + setup.height - 1);
  expect(setup.width).toBeLessThanOrEqual(390);
  // Nothing wider than the screen.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.screenshot({ path: `${ARTIFACTS}/layout-390x844.png`, fullPage: true });
});

test('run files import marked as imported and export back; charts download as PNG and SVG, metrics as CSV', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto('/?nodemo');
  const fixture = runFileFixture();
  await page.getByTestId('import-runs-input').setInputFiles({ name: 'two.rankscope.json', mimeType: 'application/json', buffer: Buffer.from(fixture) });
  await expect(page.getByTestId('import-message')).toContainText('Imported 2 runs');
  await expect(page.getByTestId('run')).toHaveCount(2);
  await expect(page.getByTestId('run-imported')).toHaveCount(2);
  await expect(page.getByTestId('comparison-row')).toHaveCount(2);
  await expect(page.getByTestId('confusion-matrix')).toBeVisible();
  for (const chart of ['loss-chart', 'accuracy-chart', 'rank-chart']) {
    await expect
      .poll(() => page.getByTestId(chart).locator('.run-line path.recharts-line-curve').evaluateAll((ps) => ps.filter((p) => (p.getAttribute('d') ?? '').length > 10).length))
      .toBe(2);
  }
  await expect(page.getByTestId('rank-numerical').first()).toHaveText('2 of 8');

  // A second import of the same file adds nothing.
  await page.getByTestId('import-runs-input').setInputFiles({ name: 'two.rankscope.json', mimeType: 'application/json', buffer: Buffer.from(fixture) });
  await expect(page.getByTestId('import-message')).toContainText('already on this page');
  await expect(page.getByTestId('run')).toHaveCount(2);

  // A file that is not a run file is refused with its name.
  await page.getByTestId('import-runs-input').setInputFiles({ name: 'notes.json', mimeType: 'application/json', buffer: Buffer.from('{"hello": 1}') });
  await expect(page.getByTestId('import-message')).toContainText('notes.json is not a Rankscope run file');


  const all = await download(page, () => page.getByTestId('export-all-runs').click());
  expect(all.name).toMatch(/\.rankscope\.json$/);
  const back = JSON.parse(all.bytes.toString('utf8'));
  const original = JSON.parse(fixture);
  expect(back.runs.map((r: { id: string }) => r.id)).toEqual(['fixture-lora', 'fixture-full']);
  expect(back.runs[0].metrics).toEqual(original.runs[0].metrics);
  expect(back.runs[0].result).toEqual(original.runs[0].result);
  expect(back.runs[0].model).toEqual(original.runs[0].model);
  expect(back.runs[1].imported_from).toBe('two.rankscope.json');

  const csv = await download(page, () => page.getByTestId('run').first().getByTestId('export-csv').click());
  const lines = csv.bytes.toString('utf8').trim().split('\n');
  expect(lines[0]).toBe('step,kind,loss,accuracy,lr,grad_norm,images_per_second,val_loss,val_accuracy,seconds');
  expect(lines).toHaveLength(1 + 10 + 2);

  const loss = page.getByTestId('loss-chart');
  const svg = await download(page, () => loss.getByTestId('chart-svg').click());
  expect(svg.name).toBe('training-loss.svg');
  const svgText = svg.bytes.toString('utf8');
  expect(svgText).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
  expect(svgText).toContain('Training loss');
  expect(svgText).toContain('LoRA r=2 (fixture)');
  expect(svgText).toContain('recharts-line-curve');
  // The SVG renders in the browser as a picture of the right size.
  const size = await page.evaluate(async (text) => {
    const img = new Image();
    img.src = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
    await img.decode();
    return [img.naturalWidth, img.naturalHeight];
  }, svgText);
  expect(size[0]).toBeGreaterThan(200);
  const png = await download(page, () => page.getByTestId('rank-chart').getByTestId('chart-png').click());
  expect(png.name).toMatch(/^rank-spectrum-.*\.png$/);
  expect([...png.bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.bytes.length).toBeGreaterThan(2000);
  await testInfo.attach('rank-chart.png', { body: png.bytes, contentType: 'image/png' });
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/layout-imported-runs.png` });
});
