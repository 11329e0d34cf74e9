/**
 * Ensembling and composing finished runs on the demo, kept cheap: LoRA and full fine-tuning of 2
 * steps each on 40 training and 30 validation images, then "Ensemble these runs" and "Compose these
 * runs" (3 steps) from the runs panel. The tables, the temperature chart and the coefficient heatmap
 * must show numbers the worker computed (oracle ≥ every member, one heatmap cell per task vector and
 * block), a clicked validation thumbnail must show that image drawn with the members' temperatures,
 * a too-small memory limit must refuse the composition, and both come back after a reload (an
 * ensemble archived without thumbnails with the index picker).
 *
 * RANKSCOPE_COMBINE_DEMO=1 runs the real demo instead (LoRA, RandLoRA and full fine-tuning at the
 * demo's 60 steps on the whole split, then ensemble and compose at their default settings) and
 * prints the numbers: minutes on SwiftShader, so it is opt-in.
 */
import { mkdirSync } from 'node:fs';
import { test, expect, type Locator } from '@playwright/test';

const SHORT = { steps: 2, batchSize: 8, evalEvery: 2, warmupSteps: 1, logEvery: 1 };
const DEMO = !!process.env.RANKSCOPE_COMBINE_DEMO;
const MEMBERS = DEMO ? 3 : 2;

async function values(rows: Locator): Promise<Array<{ kind: string; value: number }>> {
  return rows.evaluateAll((els) => els.map((e) => ({ kind: e.getAttribute('data-kind') ?? '', value: Number(e.getAttribute('data-value')) })));
}

test.use({ viewport: { width: 1400, height: 900 } });

test('ensemble and compose two finished demo runs: tables, temperatures, heatmap, memory refusal, reload', async ({ page }) => {
  test.setTimeout(DEMO ? 1_800_000 : 300_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  const t0 = Date.now();
  const lap = (what: string) => console.log(`${what}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  await page.goto('/?e2e&targets=query,value');
  await expect(page.getByTestId('demo-run')).toBeEnabled({ timeout: 120_000 });
  if (DEMO) {
    await page.getByTestId('demo-run').click();
  } else {
    // A small split: 8 training and 6 validation images per class.
    await page.getByTestId('section-toggle-data').click();
    await page.getByTestId('train-limit').fill('40');
    await page.getByTestId('val-limit').fill('30');
    await expect(page.getByTestId('val-total')).toHaveText('30');
    await expect(page.getByTestId('train-total')).toHaveText('40');
    lap('loaded');
    const ids = await page.evaluate((train) => window.__rankscope!.compare(train, ['lora', 'full']), SHORT);
    expect(ids).toHaveLength(2);
  }
  await expect(page.locator('[data-testid=run][data-state=done]')).toHaveCount(MEMBERS, { timeout: DEMO ? 1_200_000 : 150_000 });
  lap('runs done');

  const panel = page.getByTestId('combine-panel');
  await expect(panel).toHaveAttribute('data-ready', 'true');
  await expect(panel.getByTestId('combine-member')).toHaveCount(MEMBERS);
  for (const box of await panel.getByTestId('combine-member').all()) await expect(box).toBeChecked();

  // Ensemble: a short controller schedule (the demo measurement keeps the defaults).
  if (!DEMO) await page.getByTestId('ensemble-steps').fill('30');
  await page.getByTestId('ensemble-start').click();
  const ensembleRun = page.locator('[data-testid=combined-run][data-kind=ensemble]');
  await expect(ensembleRun).toHaveAttribute('data-state', 'done', { timeout: DEMO ? 600_000 : 120_000 });
  lap('ensemble done');
  const acc = await values(page.getByTestId('ensemble-accuracy').getByTestId('accuracy-row'));
  expect(acc.map((r) => r.kind)).toEqual([...Array(MEMBERS).fill('member'), 'average', 'oracle', 'ensemble']);
  const oracle = acc.find((r) => r.kind === 'oracle')!.value;
  for (const r of acc) {
    expect(r.value).toBeGreaterThanOrEqual(0);
    expect(r.value).toBeLessThanOrEqual(1);
    if (r.kind === 'member') expect(oracle).toBeGreaterThanOrEqual(r.value);
  }
  // The runs' own accuracies (the comparison table) are the members' rows: same model, same images.
  const finals = await page.getByTestId('comparison-row').getByTestId('cell-final').allInnerTexts();
  const memberTexts = await page.locator('[data-testid=ensemble-accuracy] [data-kind=member] td:nth-child(2)').allInnerTexts();
  expect(memberTexts).toEqual(finals);
  console.log(`ensemble: ${JSON.stringify(acc)}`);
  const temps = await page.getByTestId('temperature-row').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
  expect(temps).toHaveLength(MEMBERS);
  for (const t of temps) expect(t).toBeGreaterThan(0);
  await expect(page.locator('[data-testid=temperature-chart] .recharts-bar-rectangle')).toHaveCount(MEMBERS);
  // The strip of validation images: the first 24, then only ones where the runs disagree (marked).
  const thumbs = page.getByTestId('ensemble-thumb');
  const rows = await thumbs.evaluateAll((els) => els.map((e) => ({ row: Number(e.getAttribute('data-row')), disagree: e.getAttribute('data-disagree') === 'true' })));
  expect(rows.slice(0, 24).map((r) => r.row)).toEqual([...Array(24).keys()]);
  for (const r of rows.slice(24)) expect(r.disagree).toBe(true);
  await expect(page.getByTestId('ensemble-no-thumbnails')).toHaveCount(0);
  const pick = thumbs.nth(5);
  await pick.click();
  await expect(pick).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('ensemble-chosen')).toHaveAttribute('data-row', '5');
  const className = (await pick.getAttribute('title'))!.match(/^Validation image 6: ([^;]+)/)![1];
  await expect(page.getByTestId('ensemble-image-summary')).toContainText(`Validation image 6 of ${DEMO ? 40 : 30}. True class ${className}`);
  // The chosen image is drawn, enlarged: opaque pixels, not all one value.
  const drawn = await page.getByTestId('ensemble-chosen-image').evaluate((c: HTMLCanvasElement) => {
    const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const grey = [...px].filter((_, i) => i % 4 === 0);
    return { width: c.width, shown: c.getBoundingClientRect().width, opaque: px[3], distinct: new Set(grey).size };
  });
  expect(drawn.width).toBeGreaterThan(0);
  expect(drawn.shown).toBeGreaterThan(drawn.width);
  expect(drawn.opaque).toBe(255);
  expect(drawn.distinct).toBeGreaterThan(1);
  await expect(page.getByTestId('temperature-row')).toHaveCount(MEMBERS);
  await expect(page.locator('[data-testid=temperature-chart] .recharts-bar-rectangle')).toHaveCount(MEMBERS);
  mkdirSync('e2e-artifacts', { recursive: true });
  await page.getByTestId('temperature-chart').screenshot({ path: 'e2e-artifacts/combine-ensemble.png' });
  await expect(page.locator('[data-testid=comparison-row-combined][data-kind=ensemble]')).toHaveCount(1);
  await expect(ensembleRun.getByTestId('export-ensemble')).toBeVisible();

  // Compose: the estimate shows before it starts; a tiny limit refuses with what to drop.
  if (!DEMO) {
    await page.getByTestId('compose-steps').fill('3');
    await page.getByTestId('compose-batchSize').fill('8');
  }
  const estimate = page.getByTestId('compose-estimate');
  await expect(estimate).toHaveAttribute('data-fits', 'true');
  await page.getByTestId('compose-limit').fill('0.01');
  await expect(estimate).toHaveAttribute('data-fits', 'false');
  await expect(estimate).toContainText('limit');
  await expect(page.getByTestId('compose-start')).toBeDisabled();
  await page.getByTestId('compose-limit').fill('4096');
  await expect(estimate).toHaveAttribute('data-fits', 'true');
  await page.getByTestId('compose-start').click();
  const composeRun = page.locator('[data-testid=combined-run][data-kind=compose]');
  await expect(composeRun).toHaveAttribute('data-state', 'done', { timeout: DEMO ? 900_000 : 150_000 });
  lap('composition done');
  const heatmap = page.getByTestId('compose-heatmap');
  await expect(heatmap).toBeVisible();
  const tasks = Number(await heatmap.getAttribute('data-tasks'));
  const blocks = Number(await heatmap.getAttribute('data-blocks'));
  expect(tasks).toBe(MEMBERS);
  expect(blocks).toBeGreaterThan(0);
  await expect(heatmap.getByTestId('heatmap-cell')).toHaveCount(tasks * blocks);
  const cells = await heatmap.getByTestId('heatmap-cell').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
  for (const v of cells) expect(Number.isFinite(v)).toBe(true);
  // Learned from 0: some coefficient moved.
  expect(cells.some((v) => v !== 0)).toBe(true);
  const composed = await values(page.getByTestId('compose-accuracy').getByTestId('accuracy-row'));
  expect(composed.map((r) => r.kind)).toEqual(['base', ...Array(MEMBERS).fill('member'), 'sum', 'composed']);
  for (const r of composed) {
    expect(r.value).toBeGreaterThanOrEqual(0);
    expect(r.value).toBeLessThanOrEqual(1);
  }
  console.log(`composition: ${JSON.stringify(composed)}`);
  await expect(page.locator('[data-testid=comparison-row-combined]')).toHaveCount(2);
  await expect(composeRun.getByTestId('export-composition')).toBeVisible();
  await page.getByTestId('combined-results').screenshot({ path: 'e2e-artifacts/combine-compose.png' });

  // Both are kept like runs. A copy of the ensemble without thumbnails stands for one archived before
  // they were kept: it must come back with the index picker and the reason.
  const ensembleId = await page.evaluate(
    () =>
      new Promise<string>((resolve, reject) => {
        const open = indexedDB.open('rankscope-combined');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const store = open.result.transaction('combined', 'readwrite').objectStore('combined');
          const all = store.getAll();
          all.onsuccess = () => {
            const rec = all.result.find((r) => r.view.kind === 'ensemble');
            const { thumbnails: _gone, ...ensemble } = rec.view.ensemble;
            store.put({ ...rec, id: `${rec.id}-old`, view: { ...rec.view, id: `${rec.id}-old`, name: `${rec.view.name} (old)`, createdAt: rec.view.createdAt + 1, ensemble } });
            store.transaction.oncomplete = () => resolve(rec.id as string);
          };
        };
      }),
  );
  await page.reload();
  await expect(page.getByTestId('combined-run')).toHaveCount(3);
  await page.getByTestId('combined-choice').selectOption(ensembleId);
  await expect(page.getByTestId('ensemble-thumb')).toHaveCount(rows.length);
  await page.getByTestId('combined-choice').selectOption(`${ensembleId}-old`);
  await expect(page.getByTestId('ensemble-no-thumbnails')).toBeVisible();
  await expect(page.getByTestId('ensemble-thumb')).toHaveCount(0);
  await page.getByTestId('ensemble-image').fill('7');
  await expect(page.getByTestId('ensemble-image-summary')).toContainText('Validation image 8');
  await expect(page.getByTestId('temperature-row')).toHaveCount(MEMBERS);
  await expect(page.locator('[data-testid=combined-run][data-kind=compose]')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('combined-results')).toBeVisible();
  // The runs come back from the archive with their merged models: they can be combined again.
  await expect(page.getByTestId('combine-panel')).toHaveAttribute('data-ready', 'true', { timeout: 120_000 });
  await expect(page.getByTestId('combine-member')).toHaveCount(MEMBERS);
  lap('reloaded');
  expect(problems).toEqual([]);
});
