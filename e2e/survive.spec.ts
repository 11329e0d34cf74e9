/**
 * Nothing lost, in the page, kept cheap (the shipped demo model, four-step runs):
 * - a GPU device destroyed mid-run (what a driver reset looks like) is replaced and the run ends
 *   at the uninterrupted run's exact losses and final numbers;
 * - a run with a huge learning rate stops as diverged with its message;
 * - a reload mid-run leaves that run "interrupted at step k" and the run queued behind it at step 0;
 *   Resume continues both, to the uninterrupted run's exact numbers;
 * - a zip bomb and a PNG bomb are skipped with their messages, and the browser's memory stays
 *   within a budget.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { test, expect, type Page } from '@playwright/test';
import pngjs from 'pngjs';
import type { TestRunView } from '../src/ui/runs/testHook';
import { browserRss } from './memory';

const MiB = 2 ** 20;
const TRAIN = { steps: 4, batchSize: 8, warmupSteps: 1, logEvery: 1, evalEvery: 100, seed: 7 };

const queue = (page: Page, train: Record<string, number>) => page.evaluate((t) => window.__rankscope!.queue(t), train);
const view = (page: Page, id: string) => page.evaluate((i) => window.__rankscope!.run(i), id) as Promise<TestRunView | undefined>;

async function demoReady(page: Page): Promise<void> {
  // The demo model and held-out classes load on their own (and again after a reload).
  await expect(page.getByTestId('demo-run')).toBeEnabled({ timeout: 120_000 });
}

function expectSameNumbers(a: TestRunView | undefined, b: TestRunView | undefined, what: string): void {
  expect(a?.losses.length, what).toBe(TRAIN.steps);
  // Same kernels on the same inputs in the same order: equal to the last bit.
  expect(a?.losses, what).toEqual(b?.losses);
  expect(a?.finalValLoss, what).toBe(b?.finalValLoss);
  expect(a?.finalValAccuracy, what).toBe(b?.finalValAccuracy);
}

/** The run's notices other than the autotuner's (which tunes GEMM tilings between steps and says so). */
const survivalNotices = (notices: readonly string[] | undefined) => (notices ?? []).filter((n) => !/^(Tuned the GEMM tiling|Timed GEMM tilings)/.test(n));

test('a lost device recovers, a diverging run stops, and a reload mid-run resumes, at the uninterrupted numbers', async ({ page }) => {
  test.setTimeout(420_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  // A reload while runs train asks first; say yes, as a person reloading would.
  page.on('dialog', (d) => void d.accept());
  await page.goto('/?e2e');
  await demoReady(page);
  await page.evaluate(() => window.__rankscope!.checkpointEvery({ everySteps: 2, everySeconds: 0 }));

  const ref = await queue(page, TRAIN);
  const lost = await queue(page, TRAIN);
  // Right after its checkpoint at step 2, with two steps still to go.
  await expect.poll(async () => (await view(page, lost))?.checkpointStep ?? 0, { timeout: 180_000, intervals: [100] }).toBe(2);
  await page.evaluate(() => window.__rankscope!.destroyDevice());
  await expect.poll(async () => (await view(page, lost))?.state, { timeout: 180_000 }).toBe('done');
  const recovered = await view(page, lost);
  expect(survivalNotices(recovered?.notices)).toEqual([expect.stringMatching(/^The GPU device was lost at step \d+ \(destroyed.*Rankscope got a new device and continues from the checkpoint at step 2\./)]);
  await expect(page.locator(`li[data-run-id="${lost}"]`).getByTestId('run-log')).toContainText('The GPU device was lost');
  mkdirSync('e2e-artifacts', { recursive: true });
  await page.locator(`li[data-run-id="${lost}"]`).screenshot({ path: 'e2e-artifacts/device-lost-run.png' });
  expectSameNumbers(recovered, await view(page, ref), 'after a device loss');

  // LoRA's B starts at 0, so the first update moves it by about the learning rate and the second overflows.
  const wild = await queue(page, { ...TRAIN, steps: 5, lr: 1e21, warmupSteps: 0, clipNorm: 0 });
  const wildRow = page.locator(`li[data-run-id="${wild}"]`);
  await expect(wildRow).toHaveAttribute('data-state', 'diverged', { timeout: 120_000 });
  await expect(wildRow.getByTestId('run-error')).toContainText(/This run diverged:.*Training diverged at step \d+.*at peak learning rate 1e\+21.*Try a learning rate about 10 times smaller/);

  // A reload mid-run: the run in flight and the one queued behind it.
  const cut = await queue(page, TRAIN);
  const next = await queue(page, { ...TRAIN, steps: 2 });
  await expect.poll(async () => (await view(page, cut))?.checkpointStep ?? 0, { timeout: 180_000, intervals: [100] }).toBe(2);
  await page.reload();
  await demoReady(page);
  const cutRow = page.locator(`li[data-run-id="${cut}"]`);
  const nextRow = page.locator(`li[data-run-id="${next}"]`);
  await expect(cutRow.getByTestId('run-state')).toHaveText('interrupted at step 2');
  await expect(nextRow.getByTestId('run-state')).toHaveText('interrupted at step 0');
  await expect(cutRow.getByTestId('run-interrupted')).toContainText('Resume continues it from there');
  mkdirSync('e2e-artifacts', { recursive: true });
  await cutRow.screenshot({ path: 'e2e-artifacts/interrupted-run.png' });
  const k = Number(await cutRow.getByTestId('run-state').getAttribute('data-interrupted-step'));
  expect((await view(page, cut))?.losses.length).toBe(k);
  await cutRow.getByTestId('run-resume-interrupted').click();
  await expect(cutRow).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  await expect(nextRow).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  expectSameNumbers(await view(page, cut), await view(page, ref), `resumed from step ${k}`);
  expect((await view(page, next))?.losses.map(([step]) => step)).toEqual([1, 2]);
  expect(problems).toEqual([]);
});

test('a full storage quota: one clear message, and the run trains on to its end without checkpoints', async ({ page, baseURL }) => {
  test.setTimeout(180_000);
  await page.goto('/?e2e');
  await demoReady(page);
  // What DevTools' "simulate storage quota" does: this origin may store 1 byte, so every IndexedDB write fails for real.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(baseURL!).origin, quotaSize: 1 });
  await page.evaluate(() => window.__rankscope!.checkpointEvery({ everySteps: 2, everySeconds: 0 }));
  const id = await queue(page, { ...TRAIN, steps: 4 });
  const row = page.locator(`li[data-run-id="${id}"]`);
  await expect(row).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  const run = await view(page, id);
  expect(run?.losses.map(([step]) => step)).toEqual([1, 2, 3, 4]);
  const notices = survivalNotices(run?.notices);
  expect(notices).toHaveLength(1);
  expect(notices[0]).toMatch(/^Checkpoint at step 2 could not be saved to IndexedDB database "rankscope-checkpoints": the browser's storage for this site is full \(QuotaExceededError/);
  expect(notices[0]).toMatch(/Training goes on without checkpoints.*Free disk space/);
  await expect(row.getByTestId('run-log')).toContainText('storage for this site is full');
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(baseURL!).origin });
});

/** A zip written by hand: each entry's declared size and CRC as given, deflated or stored. */
function zipOf(entries: Array<{ name: string; data: Buffer; method: 0 | 8; size: number; crc: number }>): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.method, 8);
    local.writeUInt32LE(e.crc >>> 0, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.size, 22);
    local.writeUInt16LE(name.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(e.method, 10);
    dir.writeUInt32LE(e.crc >>> 0, 16);
    dir.writeUInt32LE(e.data.length, 20);
    dir.writeUInt32LE(e.size, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42);
    parts.push(local, name, e.data);
    central.push(dir, name);
    offset += local.length + name.length + e.data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, end]);
}

/**
 * A deflate stream of `mib` MiB of zeros, built without inflating them here: one fully flushed
 * MiB of zeros (a block that refers to nothing before it) repeated, then an empty final block.
 */
function zerosDeflated(mib: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(MiB), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array.from({ length: mib }, () => block), Buffer.from([0x03, 0x00])]);
}

function png(width: number, height: number, seed: number): Buffer {
  const img = new pngjs.PNG({ width, height });
  for (let i = 0; i < width * height; i++) img.data.set([(i * 7 + seed * 40) & 0xff, (i * 3 + seed) & 0xff, seed * 50, 255], 4 * i);
  return pngjs.PNG.sync.write(img);
}

/** A PNG whose header claims width×height pixels, with nothing a decoder could use after it. */
function pngHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(64);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  b.set([8, 2, 0, 0, 0], 24);
  return b;
}

const goodImages = () =>
  ['cats', 'dogs'].flatMap((cls, c) => Array.from({ length: 4 }, (_, i) => ({ name: `${cls}/ok-${i}.png`, data: png(16, 16, 2 * i + c) })));

test('a zip bomb and a PNG bomb are skipped with their messages, within a memory budget', async ({ page }) => {
  test.setTimeout(180_000);
  const tmp = mkdtempSync(join(tmpdir(), 'rankscope-e2e-bombs-'));
  try {
    // 1 GiB of zeros in about 1 MB, twice: declared honestly (over the 512 MiB limit), and declared as 1 KiB.
    const zeros = zerosDeflated(1024);
    const bomb = zipOf([
      ...goodImages().map((g) => ({ ...g, method: 0 as const, size: g.data.length, crc: crc32(g.data) })),
      { name: 'cats/huge.png', data: zeros, method: 8, size: 1024 * MiB, crc: 0 },
      { name: 'dogs/liar.png', data: zeros, method: 8, size: 1024, crc: 0 },
    ]);
    const folder = join(tmp, 'pets');
    for (const g of goodImages()) {
      mkdirSync(join(folder, g.name, '..'), { recursive: true });
      writeFileSync(join(folder, g.name), g.data);
    }
    writeFileSync(join(folder, 'cats', 'poster.png'), pngHeader(40000, 40000));

    await page.goto('/?nodemo');
    await expect(page.getByTestId('dataset-files-input')).toBeEnabled({ timeout: 60_000 });
    const budget = 400 * MiB;
    const sample = async (drop: () => Promise<void>, until: () => Promise<void>) => {
      const before = browserRss() ?? 0;
      let peak = before;
      const timer = setInterval(() => (peak = Math.max(peak, browserRss() ?? 0)), 100);
      try {
        await drop();
        await until();
      } finally {
        clearInterval(timer);
      }
      return { before, peak };
    };

    const zipRun = await sample(
      () => page.getByTestId('dataset-files-input').setInputFiles({ name: 'bomb.zip', mimeType: 'application/zip', buffer: bomb }),
      () => expect(page.getByTestId('dataset-images')).toHaveText('8', { timeout: 60_000 }),
    );
    const skipped = page.getByTestId('skipped-file');
    await expect(skipped.filter({ hasText: 'cats/huge.png' })).toContainText(/unpacks to more than 512 MiB, so Rankscope stopped reading it/);
    await expect(skipped.filter({ hasText: 'dogs/liar.png' })).toContainText(/unpacks to more than 1 KiB, so Rankscope stopped reading it/);

    const pngRun = await sample(
      () => page.getByTestId('dataset-folder-input').setInputFiles(folder),
      () => expect(page.getByTestId('skipped-file').filter({ hasText: 'poster.png' })).toContainText(/40000×40000 pixels; Rankscope reads images up to 100 megapixels: resize it/, { timeout: 60_000 }),
    );
    await expect(page.getByTestId('dataset-images')).toHaveText('8');
    const mb = (n: number) => Math.round(n / MiB);
    console.log(`browser memory: zip bomb ${mb(zipRun.before)} -> peak ${mb(zipRun.peak)} MiB; PNG bomb ${mb(pngRun.before)} -> peak ${mb(pngRun.peak)} MiB`);
    test.info().annotations.push({ type: 'memory', description: `zip bomb +${mb(zipRun.peak - zipRun.before)} MiB, PNG bomb +${mb(pngRun.peak - pngRun.before)} MiB` });
    // Inflating either bomb would take 1 GiB, decoding the PNG 4.8 GB: the tab grows by far less.
    expect(zipRun.peak - zipRun.before).toBeLessThan(budget);
    expect(pngRun.peak - pngRun.before).toBeLessThan(budget);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
