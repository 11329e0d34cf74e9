import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Locator, type Page, type TestInfo } from '@playwright/test';
import { strToU8, zipSync } from 'fflate';
import pngjs from 'pngjs';

// Screenshots also go to e2e-artifacts/ (ignored by git), as in gpu.spec.ts.
const ARTIFACTS = 'e2e-artifacts';

async function screenshot(page: Page, testInfo: TestInfo, name: string, target?: Locator) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const body = target ? await target.screenshot({ path: `${ARTIFACTS}/${name}.png` }) : await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
  await testInfo.attach(name, { body, contentType: 'image/png' });
}

function png(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const img = new pngjs.PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) img.data.set([...pixel(x, y), 255], 4 * (y * width + x));
  return pngjs.PNG.sync.write(img);
}

/** A zip of class folders as a person would make one, with one damaged image and a stray text file. */
function petsZip(): Buffer {
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 5; i++) {
    files[`pets/cat/cat-${i}.png`] = png(24, 20, (x, y) => [200 - 10 * i, (x * 8) & 0xff, (y * 9) & 0xff]);
    files[`pets/dog/dog-${i}.png`] = png(20, 24, (x, y) => [(y * 7) & 0xff, 40 + 10 * i, (x * 11) & 0xff]);
  }
  files['pets/dog/broken.png'] = png(8, 8, () => [1, 2, 3]).subarray(0, 50);
  files['pets/dog/notes.txt'] = strToU8('good dogs');
  return Buffer.from(zipSync(files));
}

async function counts(page: Page): Promise<Array<{ cls: string; train: number; val: number; total: number }>> {
  return page.getByTestId('class-count').evaluateAll((rows) =>
    rows.map((r) => ({
      cls: r.getAttribute('data-class') ?? '',
      train: Number(r.getAttribute('data-train')),
      val: Number(r.getAttribute('data-val')),
      total: Number(r.getAttribute('data-total')),
    })),
  );
}

test('built-in Fashion-MNIST mini: counts, sample grid, split and few-shot changes, augmentation preview', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
  });
  await page.goto('/?nodemo');
  const panel = page.getByTestId('dataset-panel');
  const builtin = page.getByTestId('dataset-builtin-fashion-mnist-mini');
  await expect(builtin).toBeEnabled({ timeout: 60_000 });
  await builtin.click();

  await expect(page.getByTestId('dataset-origin')).toHaveText('Built-in: Fashion-MNIST mini');
  await expect(page.getByTestId('dataset-images')).toHaveText('1,000');
  await expect(page.getByTestId('dataset-classes')).toHaveText('10');
  await expect(page.getByTestId('class-count')).toHaveCount(10);
  let rows = await counts(page);
  expect(rows.map((r) => r.cls)).toEqual(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
  // The default split holds out 20% of each class.
  expect(rows.every((r) => r.total === 100 && r.train === 80 && r.val === 20)).toBe(true);
  await expect(page.getByTestId('train-total')).toHaveText('800');

  // The sample grid: one row per class, six thumbnails each, really drawn (not blank).
  await expect(page.getByTestId('sample-row')).toHaveCount(10);
  await expect(page.getByTestId('sample-thumb')).toHaveCount(60);
  const inked = await page.getByTestId('sample-thumb').first().evaluate((c) => {
    const canvas = c as HTMLCanvasElement;
    const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += d[i];
    return { width: canvas.width, mean: sum / (d.length / 4) };
  });
  expect(inked.width).toBe(28);
  expect(inked.mean).toBeGreaterThan(10);
  await expect(page.getByTestId('skipped-files')).toHaveCount(0);
  await screenshot(page, testInfo, 'dataset-builtin', panel);

  // A new validation fraction re-splits at once, without loading again.
  await page.getByTestId('val-fraction').fill('0.5');
  await expect(page.getByTestId('train-total')).toHaveText('500');
  rows = await counts(page);
  expect(rows.every((r) => r.train === 50 && r.val === 50)).toBe(true);

  // Few-shot: 4 training images per class; validation unchanged.
  await page.getByTestId('kshot-enabled').check();
  await page.getByTestId('kshot-4').click();
  await expect(page.getByTestId('train-total')).toHaveText('40');
  rows = await counts(page);
  expect(rows.every((r) => r.train === 4 && r.val === 50)).toBe(true);

  // A validation fraction that is not one is refused where it was typed; the counts stay.
  await page.getByTestId('val-fraction').fill('1.5');
  await expect(page.getByTestId('val-fraction-error')).toContainText('between 0 and 1');
  await expect(page.getByTestId('train-total')).toHaveText('40');

  // Augmentation: the toggles show what training batches will look like.
  await page.getByTestId('augment-crop').check();
  await page.getByTestId('augment-flip').check();
  await expect(page.getByTestId('augment-view')).toHaveCount(20);
  await screenshot(page, testInfo, 'dataset-split-kshot-augment', panel);
  expect(problems).toEqual([]);
});

test('a dropped zip of class folders loads, with its broken file flagged and the split adjustable', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  await page.goto('/?nodemo');
  const input = page.getByTestId('dataset-files-input');
  await expect(input).toBeEnabled({ timeout: 60_000 });
  await input.setInputFiles({ name: 'pets.zip', mimeType: 'application/zip', buffer: petsZip() });

  await expect(page.getByTestId('dataset-origin')).toHaveText('pets.zip');
  await expect(page.getByTestId('dataset-classes')).toHaveText('2');
  await expect(page.getByTestId('dataset-images')).toHaveText('10');
  const skipped = page.getByTestId('skipped-file');
  await expect(skipped).toHaveCount(2);
  await expect(page.locator('[data-testid="skipped-file"][data-file="dog/broken.png"]')).toContainText('not an image this browser can decode');
  await expect(page.locator('[data-testid="skipped-file"][data-file="dog/notes.txt"]')).toContainText('not an image file');
  await expect(page.getByTestId('sample-thumb')).toHaveCount(10);
  let rows = await counts(page);
  expect(rows).toEqual([
    { cls: 'cat', train: 4, val: 1, total: 5 },
    { cls: 'dog', train: 4, val: 1, total: 5 },
  ]);

  await page.getByTestId('val-fraction').fill('0.4');
  await expect(page.getByTestId('val-total')).toHaveText('4');
  rows = await counts(page);
  expect(rows.map((r) => [r.train, r.val])).toEqual([
    [3, 2],
    [3, 2],
  ]);
  await screenshot(page, testInfo, 'dataset-zip-flagged', page.getByTestId('dataset-panel'));

  // A file that is not a data set: the error names it and says what to do; the zip stays loaded.
  await page.getByTestId('dataset-files-input').setInputFiles({ name: 'photos.zip', mimeType: 'application/zip', buffer: Buffer.from('not a zip at all') });
  await expect(page.getByTestId('dataset-error')).toContainText('photos.zip is not a readable zip archive');
  await expect(page.getByTestId('dataset-error')).toContainText('pets.zip is still loaded');
  await expect(page.getByTestId('class-count')).toHaveCount(2);
});

/** CIFAR-10 binary records: a label byte, then the red, green and blue planes of a 32×32 image. */
function cifarBatch(labels: number[]): Buffer {
  const out = Buffer.alloc(labels.length * 3073);
  labels.forEach((l, k) => {
    out[k * 3073] = l;
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) out[k * 3073 + 1 + c * 1024 + p] = c === l % 3 ? 220 : (p * 3 + k * 40) & 0x7f;
  });
  return out;
}

test('IDX files dropped loose and a CIFAR-10 folder picked load as data sets', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  await page.goto('/?nodemo');
  await expect(page.getByTestId('dataset-builtin-fashion-mnist-mini')).toBeEnabled({ timeout: 60_000 });

  // Drag and drop: the four IDX files as loose files, the way a person drops what they downloaded.
  await page.evaluate(async () => {
    const names = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
    const dt = new DataTransfer();
    for (const n of names) dt.items.add(new File([await (await fetch(`datasets/fashion-mnist-mini/${n}`)).blob()], n));
    const zone = document.querySelector('[data-testid="dataset-dropzone"]')!;
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await expect(page.getByTestId('dataset-origin')).toHaveText('4 files');
  await expect(page.getByTestId('dataset-images')).toHaveText('1,000');
  // Loose IDX files carry no class names; with no "fashion" in their names they get MNIST's digits.
  await expect(page.getByTestId('class-count').first()).toHaveAttribute('data-class', '0');
  await expect(page.getByTestId('sample-thumb')).toHaveCount(60);

  // A folder picked with the folder button: CIFAR-10 batches with their class names.
  const dir = mkdtempSync(join(tmpdir(), 'rankscope-e2e-cifar-'));
  const folder = join(dir, 'cifar-10-batches-bin');
  mkdirSync(folder);
  writeFileSync(join(folder, 'data_batch_1.bin'), cifarBatch([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]));
  writeFileSync(join(folder, 'data_batch_2.bin'), cifarBatch([2, 3, 4, 5, 6, 7, 8, 9]));
  writeFileSync(join(folder, 'data_batch_3.bin'), cifarBatch([1]).subarray(0, 1000));
  writeFileSync(join(folder, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
  try {
    await page.getByTestId('dataset-folder-input').setInputFiles(folder);
    await expect(page.getByTestId('dataset-origin')).toHaveText('cifar-10-batches-bin');
    await expect(page.getByTestId('dataset-images')).toHaveText('20');
    await expect(page.getByTestId('class-count')).toHaveCount(10);
    await expect(page.getByTestId('class-count').nth(3)).toHaveAttribute('data-class', 'cat');
    await expect(page.locator('[data-testid="skipped-file"][data-file="data_batch_3.bin"]')).toContainText('not a whole number of 3073-byte CIFAR-10 records');
    await screenshot(page, testInfo, 'dataset-cifar-folder', page.getByTestId('dataset-panel'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a Hugging Face parquet file dropped loads with its ClassLabel names', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const images = [0, 1, 2, 3, 4, 5].map((i) => ({ bytes: new Uint8Array(png(16, 16, (x) => (i % 2 ? [x * 15, 30, 200] : [220, x * 15, 30]))), path: `${i}.png` }));
  images[5] = { bytes: new Uint8Array(png(4, 4, () => [0, 0, 0]).subarray(0, 30)), path: 'cut.png' };
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'image', data: images },
      { name: 'label', data: [0n, 1n, 0n, 1n, 0n, 1n] },
    ],
    schema: [
      { name: 'schema', num_children: 2 },
      { name: 'image', repetition_type: 'OPTIONAL', num_children: 2 },
      { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
      { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'label', type: 'INT64', repetition_type: 'OPTIONAL' },
    ],
    kvMetadata: [{ key: 'huggingface', value: JSON.stringify({ info: { features: { image: { _type: 'Image' }, label: { names: ['warm', 'cool'], _type: 'ClassLabel' } } } }) }],
  });
  await page.goto('/?nodemo');
  const input = page.getByTestId('dataset-files-input');
  await expect(input).toBeEnabled({ timeout: 60_000 });
  await input.setInputFiles({ name: 'train-00000-of-00001.parquet', mimeType: 'application/octet-stream', buffer: Buffer.from(buffer) });
  await expect(page.getByTestId('dataset-images')).toHaveText('5');
  expect((await counts(page)).map((r) => [r.cls, r.total])).toEqual([
    ['warm', 3],
    ['cool', 2],
  ]);
  await expect(page.locator('[data-testid="skipped-file"]')).toContainText('train-00000-of-00001.parquet row 5');
  await screenshot(page, testInfo, 'dataset-parquet', page.getByTestId('dataset-panel'));
});
