/**
 * A small study on the shipped demo model and data, kept cheap (LoRA vs RandLoRA at 2 budgets ×
 * 2 seeds plus the probe, 4-shot, 2 steps a run, q/v targeted): the plan shows achieved counts, starting it
 * queues every cell, the first seed's results fill the table, the charts and the paired difference,
 * a point opens its runs, and after a reload the finished runs are still there and "Continue study"
 * queues exactly the rest, which then finish with a 95% interval.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { test, expect, type Page } from '@playwright/test';

const SETTINGS = '/?steps=2&batchSize=8&evalEvery=2&warmupSteps=1&targets=query,value';

async function doneCount(page: Page): Promise<number> {
  return Number(await page.getByTestId('study-status').getAttribute('data-done'));
}

test.use({ viewport: { width: 1400, height: 900 } });

test('a study: plan, queue, results with a verdict, a point opens its run, reload and continue', async ({ page }) => {
  test.setTimeout(300_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  // Leaving with runs in flight asks first; this test means to leave.
  page.on('dialog', (d) => void d.accept());

  const t0 = Date.now();
  await page.goto(SETTINGS);
  await expect(page.getByTestId('demo-run')).toBeEnabled({ timeout: 120_000 });
  console.log(`loaded in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  await page.getByTestId('section-toggle-study').click();
  const setup = page.getByTestId('study-setup');
  await expect(setup).toBeVisible();
  await page.getByTestId('study-budgets').fill('850, 1400');
  await page.getByTestId('study-seeds').fill('0, 1');
  // 4 images per class, drawn per seed in the worker from the training split (the few-shot axis).
  await page.getByTestId('study-kshots').fill('4');
  await page.getByTestId('study-ref-full').uncheck();
  await expect(page.getByTestId('study-ref-probe')).toBeChecked();
  // The demo ViT is no CLIP: zero-shot cannot be a reference.
  await expect(page.getByTestId('study-ref-zeroshot')).toBeDisabled();

  // Six q/v layers of 48 × 48 and a 5-class head of 245: LoRA r = 1 and RandLoRA r = 48 both train 576 + 245.
  const plan = page.getByTestId('study-plan');
  await expect(plan).toContainText('include the classification head (245)');
  const planRows = page.getByTestId('study-plan-row');
  await expect(planRows).toHaveCount(5);
  const lora = await page.locator('[data-testid=study-plan-row][data-method=lora] [data-testid=study-plan-params]').allInnerTexts();
  const rand = await page.locator('[data-testid=study-plan-row][data-method=randlora] [data-testid=study-plan-params]').allInnerTexts();
  expect(lora).toEqual(['821', '1,397']);
  expect(rand).toEqual(['821', '1,397']);
  await expect(planRows.first()).toContainText('4');
  await expect(page.getByTestId('study-start')).toHaveText('Start study (10 runs)');
  mkdirSync('e2e-artifacts', { recursive: true });
  await setup.screenshot({ path: 'e2e-artifacts/study-setup.png' });

  const started = Date.now();
  await page.getByTestId('study-start').click();
  await expect(page.getByTestId('run')).toHaveCount(10);
  const status = page.getByTestId('study-status');
  await expect(status).toHaveAttribute('data-total', '10');

  // Seed 0 first: once its five runs are done, every budget has a LoRA/RandLoRA pair.
  await expect.poll(() => doneCount(page), { timeout: 150_000 }).toBeGreaterThanOrEqual(5);
  console.log(`first seed: ${((Date.now() - started) / 1000).toFixed(0)} s for 5 runs`);
  await expect(page.getByTestId('study-row')).toHaveCount(5);
  await expect(page.getByTestId('study-pair-table').first()).toHaveAttribute('data-pair', 'randlora-lora');
  await expect(page.getByTestId('study-verdict').first()).not.toBeEmpty();
  await expect(page.locator('[data-testid=study-accuracy-chart] [data-testid=study-point]')).toHaveCount(4);
  // The rank chart also places the probe (ΔW = 0, rank 0) at its own count.
  await expect(page.locator('[data-testid=study-rank-chart] [data-testid=study-point]')).toHaveCount(5);

  // A point opens its run: the runs list marks it and scrolls to it.
  const point = page.locator('[data-testid=study-accuracy-chart] [data-testid=study-point][data-method=randlora]').first();
  await point.click();
  const focused = page.locator('[data-testid=run][data-focused=true]');
  // One run per finished seed of that point (the second seed may have finished by now).
  await expect.poll(() => focused.count()).toBeGreaterThanOrEqual(1);
  for (const name of await focused.getByTestId('run-name').allInnerTexts()) expect(name).toMatch(/^RandLoRA r=48 · seed \d/);
  for (const state of await focused.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))) expect(state).toBe('done');
  await expect(focused.first()).toBeInViewport();

  // Reload in the middle: finished runs come back from the archive, the rest can be continued.
  const doneBefore = await doneCount(page);
  expect(doneBefore).toBeLessThan(10);
  const t1 = Date.now();
  await page.reload();
  await expect(page.getByTestId('demo-run')).toBeEnabled({ timeout: 120_000 });
  console.log(`reloaded in ${((Date.now() - t1) / 1000).toFixed(0)} s`);
  // A run may have finished (and been saved) between the count and the reload.
  await expect.poll(() => page.locator('[data-testid=run][data-state=done]').count()).toBeGreaterThanOrEqual(doneBefore);
  const restored = await page.locator('[data-testid=run][data-state=done]').count();
  expect(restored).toBeLessThan(10);
  await expect(status).toHaveAttribute('data-done', String(restored));
  await expect(status).toHaveAttribute('data-left', String(10 - restored));
  await expect(page.getByTestId('study-row').first()).toBeVisible();
  await page.getByTestId('study-continue').click();
  await expect(page.getByTestId('run')).toHaveCount(10);
  await expect(page.getByTestId('study-continue')).toHaveCount(0);
  await expect.poll(() => doneCount(page), { timeout: 150_000 }).toBe(10);
  console.log(`whole study: ${((Date.now() - started) / 1000).toFixed(0)} s for 10 runs, reload included`);

  // Both seeds paired: an interval, and the verdict says whether it excludes zero.
  const pairRows = page.locator('[data-testid=study-pair-table][data-pair=randlora-lora] [data-testid=study-pair-row]');
  await expect(pairRows).toHaveCount(2);
  await expect(pairRows.first()).toContainText('[');
  await expect(page.getByTestId('study-row')).toHaveCount(5);
  for (const text of await page.getByTestId('study-row').allInnerTexts()) console.log(`study row: ${text.replace(/\s+/g, ' ')}`);
  for (const text of await page.getByTestId('study-verdict').allInnerTexts()) console.log(`verdict: ${text}`);
  // study.json as the CLI writes it: { runs: [...] } with the columns.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('study-download-json').click()]);
  expect(download.suggestedFilename()).toBe('study.json');
  const json = JSON.parse(readFileSync(await download.path(), 'utf8')) as { runs: Array<Record<string, unknown>> };
  expect(json.runs).toHaveLength(10);
  expect(new Set(json.runs.map((r) => r.k_shot))).toEqual(new Set([4]));
  const trainSeconds = json.runs.reduce((a, r) => a + Number(r.seconds ?? 0), 0);
  console.log(`training time inside the runs: ${trainSeconds.toFixed(1)} s of the study's wall time`);
  for (const key of ['method', 'setting', 'trainable_params', 'budget', 'seed', 'k_shot', 'best_val_accuracy', 'final_val_accuracy', 'rank_numerical', 'rank_effective', 'intruders']) {
    expect(json.runs[0]).toHaveProperty(key);
  }

  // Intruder dimensions per run and per layer; ε recounts from the stored cosines.
  await expect(page.getByTestId('intruders')).toBeVisible();
  await expect(page.getByTestId('intruder-layer')).toHaveCount(6);
  const total = async () => Number(await page.getByTestId('intruder-run-total').first().innerText());
  await page.getByTestId('intruder-eps').fill('0.05');
  await expect(page.getByTestId('intruder-eps-value')).toHaveText('0.05');
  const low = await total();
  await page.getByTestId('intruder-eps').fill('0.95');
  await expect(page.getByTestId('study-table')).toContainText('ε = 0.95');
  const high = await total();
  expect(high).toBeGreaterThanOrEqual(low);
  console.log(`intruders of the first run: ${low} at ε = 0.05, ${high} at ε = 0.95`);

  mkdirSync('e2e-artifacts', { recursive: true });
  await page.getByTestId('study-results').screenshot({ path: 'e2e-artifacts/study-results.png' });
  expect(problems).toEqual([]);
});

test('the demo’s one-click study queues LoRA vs RandLoRA vs VeRA at three budgets, three seeds, with references', async ({ page }) => {
  test.setTimeout(180_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('dialog', (d) => void d.accept());
  await page.goto('/');
  await expect(page.getByTestId('demo-study')).toBeEnabled({ timeout: 120_000 });
  await expect(page.getByTestId('demo-study')).toContainText('LoRA vs RandLoRA vs VeRA at matched budgets, 3 seeds');
  await page.getByTestId('demo-study').click();
  await expect(page.getByTestId('demo-study-queued')).toContainText('Queued 33 runs');
  await expect(page.getByTestId('run')).toHaveCount(33);
  const status = page.getByTestId('study-status');
  await expect(status).toHaveAttribute('data-total', '33');
  await expect(status).toContainText('LoRA, RandLoRA, VeRA at 2,261, 4,277, 8,309 values, seeds 0, 1, 2');
  // Seed 0 first, in the study's method order, with the demo's 60 steps.
  const names = await page.getByTestId('run-name').allInnerTexts();
  expect(names[0]).toMatch(/^LoRA r=1 · seed 0 · lr 5e-3$/);
  expect(names[2]).toMatch(/^VeRA r=56 · seed 0/);
  expect(names.filter((n) => n.includes('seed 0'))).toHaveLength(11);
  expect(problems).toEqual([]);
});
