import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, type Page, type TestInfo } from '@playwright/test';
import { standInHub, tinyModel } from './fixtures/hub';

// Screenshots also go to e2e-artifacts/ (ignored by git) so they are easy to find.
const ARTIFACTS = 'e2e-artifacts';

async function screenshot(page: Page, testInfo: TestInfo, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const body = await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
  await testInfo.attach(name, { body, contentType: 'image/png' });
}

/** One panel on its own, readable at full size. */
async function panelShot(page: Page, testInfo: TestInfo, testId: string, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const body = await page.getByTestId(testId).screenshot({ path: `${ARTIFACTS}/${name}.png` });
  await testInfo.attach(name, { body, contentType: 'image/png' });
}

const ID = 'rankscope-test/tiny-vit';

// The tiny ViT: hidden 32, 2 blocks, 10 labels. LoRA on query and value: 4 layers × r·(32 + 32),
// plus the head (10 × 32 + 10).
const HEAD = 10 * 32 + 10;
const loraParams = (r: number) => 4 * r * 64 + HEAD;

async function loadFromHub(page: Page, id: string) {
  await page.getByTestId('model-id-input').fill(id);
  await page.getByTestId('model-id-load').click();
}

test('loads a model through the Hub, estimates every method, keeps the settings in the URL', async ({ page, context }, testInfo) => {
  const dir = tinyModel();
  const hub = await standInHub(context, { models: { [ID]: dir } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });

  await page.goto('/?nodemo');
  await expect(page.getByTestId('estimate-need-model')).toBeVisible();
  await loadFromHub(page, ID);

  // The summary, from the checkpoint's config.json.
  const summary = page.getByTestId('model-summary');
  await expect(summary).toBeVisible();
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-status', 'loaded');
  await expect(page.getByTestId('model-fact-parameters')).toContainText('24,234');
  await expect(page.getByTestId('model-fact-layers')).toContainText('2 transformer blocks');
  await expect(page.getByTestId('model-fact-hidden')).toContainText('32');
  await expect(page.getByTestId('model-fact-heads')).toContainText('4');
  await expect(page.getByTestId('model-fact-image')).toContainText('32 × 32');
  await expect(page.getByTestId('model-fact-patch')).toContainText('8 × 8 (16 patches');
  await expect(page.getByTestId('model-fact-architecture')).toContainText('ViTForImageClassification');

  // Progress: every byte of the weights, per file and overall.
  const size = statSync(join(dir, 'model.safetensors')).size;
  const weights = page.locator('[data-testid="model-progress-file"][data-file="model.safetensors"]');
  await expect(weights).toHaveAttribute('data-done', String(size));
  await expect(weights).toHaveAttribute('data-total', String(size));
  await expect(page.getByTestId('model-progress-overall')).toHaveAttribute('data-total', String(size));
  expect(hub.requests).toContain(`GET /${ID}/resolve/main/model.safetensors`);

  // The cache now holds it.
  await expect(page.locator(`[data-testid="model-cache-row"][data-id="${ID}"]`)).toBeVisible();

  // Costs of all seven methods, side by side: DoRA came in as one folder under src/methods.
  const rows = page.getByTestId('cost-row');
  await expect(rows).toHaveCount(7);
  const dora = page.locator('[data-testid="cost-row"][data-method="dora"]');
  await expect(dora).toHaveAttribute('data-rank', 'full rank (32)');
  // LoRA's values plus one magnitude per output of each of the 4 layers.
  await expect(dora).toHaveAttribute('data-params', String(loraParams(8) + 4 * 32));
  const lora = page.locator('[data-testid="cost-row"][data-method="lora"]');
  await expect(lora).toHaveAttribute('data-params', String(loraParams(8)));
  await expect(lora).toHaveAttribute('data-rank', '≤ 8 of 32');
  await expect(page.locator('[data-testid="cost-row"][data-method="randlora"]')).toHaveAttribute('data-rank', 'full rank (32)');
  await expect(page.locator('[data-testid="cost-row"][data-method="probe"]')).toHaveAttribute('data-params', String(HEAD));
  await expect(page.getByTestId('estimate-selected')).toHaveAttribute('data-params', String(loraParams(8)));
  await screenshot(page, testInfo, 'model-loaded');
  await panelShot(page, testInfo, 'model-panel', 'model-panel-loaded');
  await panelShot(page, testInfo, 'method-panel', 'method-panel-lora');

  // A method setting changes the estimate, and the URL.
  const memoryBefore = Number(await lora.getAttribute('data-memory'));
  await page.getByTestId('method-field-r').fill('16');
  await expect(page.getByTestId('estimate-selected')).toHaveAttribute('data-params', String(loraParams(16)));
  await expect(lora).toHaveAttribute('data-rank', '≤ 16 of 32');
  expect(Number(await lora.getAttribute('data-memory'))).toBeGreaterThan(memoryBefore);
  await expect.poll(() => new URL(page.url()).searchParams.get('lora.r')).toBe('16');
  expect(new URL(page.url()).searchParams.get('model')).toBe(ID);

  // A training setting changes the memory estimate (activations grow with the batch).
  await page.getByTestId('train-field-batchSize').fill('4');
  await expect.poll(async () => Number(await lora.getAttribute('data-memory'))).toBeLessThan(memoryBefore);
  await expect.poll(() => new URL(page.url()).searchParams.get('batchSize')).toBe('4');

  // Targets: adding the MLP layers adds their LoRA factors (2 × r·(32 + 64) per block).
  await page.getByTestId('target-intermediate.dense').check();
  await expect(page.getByTestId('estimate-selected')).toHaveAttribute('data-params', String(loraParams(16) + 2 * 16 * 96));
  await expect.poll(() => new URL(page.url()).searchParams.get('targets')).toBe('query,value,intermediate.dense');

  // A value out of range is explained and not used.
  await page.getByTestId('method-field-r').fill('0');
  await expect(page.getByTestId('method-field-r-error')).toContainText('LoRA r (rank) must be a whole number ≥ 1');
  await expect(page.getByTestId('estimate-selected')).toHaveAttribute('data-params', String(loraParams(16) + 2 * 16 * 96));
  await page.getByTestId('method-field-r').fill('16');

  // Choosing another method through the table.
  await page.locator('[data-testid="cost-row"][data-method="randlora"]').click();
  await expect(page.locator('[data-testid="method-settings"]')).toHaveAttribute('data-method', 'randlora');
  await expect.poll(() => new URL(page.url()).searchParams.get('method')).toBe('randlora');
  await screenshot(page, testInfo, 'method-changed');
  await panelShot(page, testInfo, 'method-panel', 'method-panel-randlora');

  // A reload restores everything from the URL and offers the model again; it loads from the cache.
  const fetched = hub.requests.length;
  await page.reload();
  await expect(page.locator('[data-testid="method-settings"]')).toHaveAttribute('data-method', 'randlora');
  await expect(page.getByTestId('train-field-batchSize')).toHaveValue('4');
  await page.locator('[data-testid="method-option"][data-method="lora"]').click();
  await expect(page.getByTestId('method-field-r')).toHaveValue('16');
  await expect(page.getByTestId('targets-need-model')).toContainText('query, value, intermediate.dense');
  const offer = page.getByTestId('model-offer');
  await expect(offer).toHaveAttribute('data-id', ID);
  await screenshot(page, testInfo, 'restored-from-url');
  await panelShot(page, testInfo, 'model-panel', 'model-panel-offer');
  await page.getByTestId('model-offer-load').click();
  await expect(page.getByTestId('model-summary')).toBeVisible();
  await expect(page.getByTestId('estimate-selected')).toHaveAttribute('data-params', String(loraParams(16) + 2 * 16 * 96));
  await expect(page.getByTestId('target-intermediate.dense')).toBeChecked();
  expect(hub.requests.slice(fetched)).toEqual([]);

  // Clearing the cache.
  await page.locator(`[data-testid="model-cache-row"][data-id="${ID}"]`).getByTestId('model-cache-remove').click();
  await expect(page.getByTestId('model-cache-count')).toHaveAttribute('data-count', '0');
  expect(problems).toEqual([]);
});

test('a model id that does not exist says so and what to do', async ({ page, context }, testInfo) => {
  await standInHub(context, { models: {} });
  await page.goto('/?nodemo');
  await loadFromHub(page, 'rankscope-test/no-such-model');
  const err = page.getByTestId('model-error');
  await expect(err).toHaveAttribute('data-kind', 'not-found');
  await expect(page.getByTestId('model-error-message')).toContainText('No model rankscope-test/no-such-model exists on https://huggingface.co');
  await expect(err).toContainText('Or pick one of the presets above.');
  await expect(page.getByTestId('model-summary')).toHaveCount(0);
  await panelShot(page, testInfo, 'model-panel', 'model-not-found');
});

test('gated and pickle-only models explain what to do', async ({ page, context }, testInfo) => {
  await standInHub(context, { models: {}, gated: ['rankscope-test/gated'], pickleOnly: ['rankscope-test/pickled'] });
  await page.goto('/?nodemo');
  await loadFromHub(page, 'rankscope-test/gated');
  await expect(page.getByTestId('model-error')).toHaveAttribute('data-kind', 'unauthorized');
  await expect(page.getByTestId('model-error-message')).toContainText('gated');
  await expect(page.getByTestId('model-token')).toBeVisible();
  await panelShot(page, testInfo, 'model-panel', 'model-gated');

  await loadFromHub(page, 'rankscope-test/pickled');
  await expect(page.getByTestId('model-error')).toHaveAttribute('data-kind', 'pickle');
  await expect(page.getByTestId('model-error-message')).toContainText('pytorch_model.bin');
  await expect(page.getByTestId('model-error-message')).toContainText('safetensors');
});

test('a download in progress shows its progress and can be cancelled', async ({ page, context }, testInfo) => {
  const hub = await standInHub(context, { models: { [ID]: tinyModel() }, hold: 'model.safetensors' });
  await page.goto('/?nodemo');
  await loadFromHub(page, ID);
  const progress = page.getByTestId('model-progress');
  await expect(progress).toHaveAttribute('data-status', 'loading');
  await expect(progress).toContainText(`Loading ${ID}`);
  await panelShot(page, testInfo, 'model-panel', 'model-loading');
  await page.getByTestId('model-cancel').click();
  await expect(page.getByTestId('model-error')).toHaveAttribute('data-kind', 'cancelled');
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-status', 'cancelled');
  await expect(page.getByTestId('model-summary')).toHaveCount(0);
  hub.release();

  // The files that did arrive (config.json, preprocessor_config.json) are in the cache; clear it all.
  await expect(page.locator(`[data-testid="model-cache-row"][data-id="${ID}"]`)).toBeVisible();
  await page.getByTestId('model-cache-clear').click();
  await page.getByTestId('model-cache-clear-confirm').click();
  await expect(page.getByTestId('model-cache-count')).toHaveAttribute('data-count', '0');
});

test('a checkpoint folder from this computer loads through the folder picker', async ({ page }) => {
  const dir = tinyModel();
  await page.goto('/?nodemo');
  await expect(page.getByTestId('model-gpu-wait')).toHaveCount(0);
  await page.getByTestId('model-folder-input').setInputFiles(dir);
  await expect(page.getByTestId('model-summary')).toBeVisible();
  await expect(page.getByTestId('model-fact-source')).toContainText('tiny-vit (3 files)');
  await expect(page.getByTestId('model-fact-parameters')).toContainText('24,234');
});

test('a checkpoint dropped on the panel loads', async ({ page }) => {
  const dir = tinyModel();
  const files = ['config.json', 'model.safetensors', 'preprocessor_config.json'].map((name) => ({ name, bytes: [...readFileSync(join(dir, name))] }));
  await page.goto('/?nodemo');
  await expect(page.getByTestId('model-gpu-wait')).toHaveCount(0);
  const dataTransfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([new Uint8Array(f.bytes)], f.name));
    return dt;
  }, files);
  await page.getByTestId('model-drop').dispatchEvent('drop', { dataTransfer });
  await expect(page.getByTestId('model-summary')).toBeVisible();
  await expect(page.getByTestId('model-fact-parameters')).toContainText('24,234');
});

test('a link with settings that cannot be used says which', async ({ page }) => {
  await page.goto('/?method=vera&vera.r=64&lora.r=0&steps=ten&nodemo');
  await expect(page.locator('[data-testid="method-settings"]')).toHaveAttribute('data-method', 'vera');
  await expect(page.getByTestId('method-field-r')).toHaveValue('64');
  const notice = page.getByTestId('url-ignored');
  await expect(notice).toContainText('lora.r=0: LoRA r (rank) must be a whole number ≥ 1, not 0.');
  await expect(notice).toContainText('steps=ten');
});
