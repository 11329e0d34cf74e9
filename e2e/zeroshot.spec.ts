/**
 * CLIP's zero-shot head in the page: a generated full CLIP (both towers and tokenizer.json,
 * scripts/make-model.ts) and 100 Fashion-MNIST images; the summary shows the text tower and the
 * tokenizer files, the head picker offers the three heads and the templates, a zero-shot run
 * with no training lands in the runs list and as a reference line, a LoRA run trains under
 * the frozen zero-shot head, and the two are composed (aTLAS) under the frozen zero-shot head,
 * whose base is then the zero-shot run's number. A vision-only CLIP and bare-number class names
 * are explained.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test, expect, type Page } from '@playwright/test';
import { tinyModel } from './fixtures/hub';

const FASHION = '/usr/share/datasets/fashion-mnist';
const IMAGES = 100;

function idxHeader(magic: number, dims: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
}

function writeFashionSubset(dir: string, n: number): void {
  mkdirSync(dir, { recursive: true });
  const images = gunzipSync(readFileSync(join(FASHION, 't10k-images-idx3-ubyte.gz')));
  const labels = gunzipSync(readFileSync(join(FASHION, 't10k-labels-idx1-ubyte.gz')));
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), Buffer.concat([idxHeader(0x803, [n, 28, 28]), images.subarray(16, 16 + n * 784)]));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), Buffer.concat([idxHeader(0x801, [n]), labels.subarray(8, 8 + n)]));
}

let tmp: string;
let named: string;
let numbered: string;

test.beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rankscope-e2e-zeroshot-'));
  // A folder named fashion-mnist gets Fashion-MNIST's class names; another name keeps IDX's numbers.
  named = join(tmp, 'fashion-mnist');
  numbered = join(tmp, 'digits-like');
  writeFashionSubset(named, IMAGES);
  writeFashionSubset(numbered, IMAGES);
});

test.afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function loadModel(page: Page, dir: string) {
  await expect(page.getByTestId('model-gpu-wait')).toHaveCount(0, { timeout: 60_000 });
  await page.getByTestId('model-folder-input').setInputFiles(dir);
  await expect(page.getByTestId('model-summary')).toBeVisible();
}

async function loadData(page: Page, dir: string) {
  await expect(page.getByTestId('dataset-folder-input')).toBeEnabled();
  await page.getByTestId('dataset-folder-input').setInputFiles(dir);
  await expect(page.getByTestId('dataset-images')).toHaveText(String(IMAGES));
}

test('zero-shot heads on a full CLIP: summary, head picker, a zero-shot run and a LoRA run under the frozen head', async ({ page }) => {
  test.setTimeout(240_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto('/?nodemo');
  await loadModel(page, tinyModel('tiny-clip-full', ['--arch', 'clip', '--preset', 'tiny']));
  await expect(page.getByTestId('model-fact-architecture')).toContainText('CLIP (vision and text towers)');
  await expect(page.getByTestId('model-fact-text')).toContainText('2 blocks, hidden 32');
  await expect(page.getByTestId('model-fact-tokenizer').locator('dd')).toHaveText('tokenizer.json, tokenizer_config.json');
  await loadData(page, named);

  const picker = page.getByTestId('head-picker');
  await expect(picker).toHaveAttribute('data-head', 'linear');
  await expect(page.getByTestId('head-option')).toHaveCount(3);
  await picker.locator('input[value=zeroshot]').check();
  await expect(picker).toHaveAttribute('data-head', 'zeroshot');
  await expect(page.getByTestId('head-template-count')).toContainText('1 template × 10 classes = 10 prompts, e.g. “a photo of a T-shirt/top.”');
  await page.getByTestId('head-templates-clip').click();
  await expect(page.getByTestId('head-template-count')).toContainText('80 templates × 10 classes = 800 prompts');
  await page.getByTestId('head-templates').fill('a photo of a {}.\nno placeholder');
  await expect(page.getByTestId('head-templates-error')).toContainText('has no "{}"');
  await page.getByTestId('head-templates').fill('a photo of a {}.\na blurry photo of the {}.');
  await expect(page.getByTestId('head-template-count')).toContainText('2 templates × 10 classes = 20 prompts');

  for (const [field, value] of [
    ['steps', '3'],
    ['batchSize', '8'],
    ['warmupSteps', '1'],
    ['evalEvery', '3'],
  ]) {
    await page.getByTestId(`train-field-${field}`).fill(value);
  }

  await page.getByTestId('queue-zeroshot').click();
  const runs = page.getByTestId('run');
  await expect(runs.nth(0).getByTestId('run-name')).toHaveText('Zero-shot · 2 templates');
  await expect(runs.nth(0)).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(runs.nth(0).getByTestId('run-zeroshot-accuracy')).toContainText('val accuracy');

  await page.getByTestId('queue-current').click();
  await expect(runs.nth(1).getByTestId('run-name')).toContainText('zero-shot head');
  await expect(runs.nth(1)).toHaveAttribute('data-state', 'done', { timeout: 150_000 });
  await expect(page.getByTestId('accuracy-chart').locator('.reference-line')).toHaveCount(1);

  // Compose the two runs under the frozen zero-shot head: only λ train, so the base is CLIP
  // zero-shot, the same number as the zero-shot run scored alone with its own (the same) head.
  await expect(page.getByTestId('combine-panel')).toHaveAttribute('data-ready', 'true', { timeout: 60_000 });
  const composeHead = page.getByTestId('compose-head');
  await expect(composeHead.getByTestId('compose-head-option')).toHaveCount(3);
  await composeHead.locator('input[value=zeroshot]').check();
  await expect(composeHead).toHaveAttribute('data-head', 'zeroshot');
  await expect(page.getByTestId('compose-head-prompts')).toContainText('2 prompt templates × 10 class names');
  await page.getByTestId('compose-steps').fill('2');
  await page.getByTestId('compose-batchSize').fill('8');
  await expect(page.getByTestId('compose-estimate')).toHaveAttribute('data-fits', 'true');
  await page.getByTestId('compose-start').click();
  const composeRun = page.locator('[data-testid=combined-run][data-kind=compose]');
  await expect(composeRun).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  const rows = await page.getByTestId('compose-accuracy').getByTestId('accuracy-row').evaluateAll((els) => els.map((e) => ({ kind: e.getAttribute('data-kind'), value: e.getAttribute('data-value') })));
  expect(rows.map((r) => r.kind)).toEqual(['base', 'member', 'member', 'sum', 'composed']);
  expect(rows[0].value).not.toBe('');
  expect(rows[0].value).toBe(rows[1].value);
  await expect(page.getByTestId('compose-accuracy')).toContainText('the frozen zero-shot head');
  expect(problems).toEqual([]);
});

test('a vision-only CLIP explains what zero-shot needs; bare-number classes get a note and a place to type names', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/?nodemo');
  await loadModel(page, tinyModel('tiny-clip-vision', ['--arch', 'clip', '--preset', 'tiny', '--no-text']));
  await expect(page.getByTestId('model-fact-text')).toContainText('vision-only');
  await expect(page.getByTestId('head-needs-text')).toContainText('openai/clip-vit-base-patch32');
  await expect(page.getByTestId('head-picker').locator('input[value=zeroshot]')).toBeDisabled();

  await loadModel(page, tinyModel('tiny-clip-full', ['--arch', 'clip', '--preset', 'tiny']));
  await expect(page.getByTestId('head-needs-text')).toHaveCount(0);
  await loadData(page, numbered);
  await expect(page.getByTestId('head-numeric-names')).toContainText('bare numbers');
  await expect(page.getByTestId('queue-zeroshot')).toBeDisabled();
  const inputs = page.getByTestId('head-class-name');
  await expect(inputs).toHaveCount(10);
  const names = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot'];
  for (let i = 0; i < names.length; i++) await inputs.nth(i).fill(names[i]);
  await expect(page.getByTestId('head-numeric-names')).toHaveCount(0);
  await expect(page.getByTestId('queue-zeroshot')).toBeEnabled();
  await expect(page.getByTestId('head-template-count')).toContainText('“a photo of a t-shirt.”');
});
