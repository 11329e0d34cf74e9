/**
 * The offline first run: with every request off this machine refused, the page opens into the
 * demo (the model Rankscope pretrained and the held-out Fashion-MNIST classes, both shipped in
 * public/), one click queues LoRA, RandLoRA and full fine-tuning, all three finish, and every
 * chart draws a line per run. The per-run figures are printed for the record.
 */
import { mkdirSync } from 'node:fs';
import { test, expect, type Locator, type Page } from '@playwright/test';

const ARTIFACTS = 'e2e-artifacts';

/** Lines that recharts drew with a real path, per chart. */
async function drawnLines(page: Page, chart: string): Promise<number> {
  return page
    .getByTestId(chart)
    .locator('.run-line path.recharts-line-curve')
    .evaluateAll((paths) => paths.filter((p) => (p.getAttribute('d') ?? '').length > 10).length);
}

async function inViewport(page: Page, target: Locator): Promise<boolean> {
  const box = await target.boundingBox();
  const view = page.viewportSize()!;
  return !!box && box.height > 0 && box.y >= 0 && box.y < view.height && box.x >= 0 && box.x < view.width;
}

test.use({ viewport: { width: 1400, height: 900 } });

test('the one-click demo runs offline: LoRA, RandLoRA and full fine-tuning finish and are drawn', async ({ page, context }, testInfo) => {
  test.setTimeout(600_000);
  const external: string[] = [];
  // No network: only the app's own server on this machine answers (requests from the worker included).
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    external.push(url.href);
    return route.abort('internetdisconnected');
  });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));

  await page.goto('/');
  await expect(page.getByTestId('demo-panel')).toBeVisible();
  // Preselected without a click: the shipped model and the held-out classes.
  await expect(page.getByTestId('demo-run')).toBeEnabled({ timeout: 120_000 });
  await expect(page.getByTestId('model-panel')).toContainText('rankscope-vit-fmnist5');
  await expect(page.getByTestId('dataset-panel')).toContainText('Pullover');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/demo-ready.png`, fullPage: true });

  const started = Date.now();
  await page.getByTestId('demo-run').click();
  const runs = page.getByTestId('run');
  await expect(runs).toHaveCount(3);
  // The results stay in view beside the setup: the run list and the loss chart, without scrolling.
  await expect.poll(() => inViewport(page, page.getByTestId('run-list'))).toBe(true);
  await expect.poll(() => inViewport(page, page.getByTestId('loss-chart'))).toBe(true);
  await expect(page.locator('[data-testid=run][data-state=done]')).toHaveCount(3, { timeout: 540_000 });
  testInfo.annotations.push({ type: 'wall time for the three runs', description: `${((Date.now() - started) / 1000).toFixed(0)} s` });

  for (const chart of ['loss-chart', 'accuracy-chart', 'rank-chart']) {
    await expect.poll(() => drawnLines(page, chart), { message: `${chart} draws one line per run` }).toBe(3);
  }
  await expect(page.getByTestId('rank-row')).toHaveCount(3);
  const rows = page.getByTestId('comparison-row');
  await expect(rows).toHaveCount(3);
  for (let i = 0; i < 3; i++) {
    const row = rows.nth(i);
    const text = (await row.innerText()).replace(/\s+/g, ' ');
    testInfo.annotations.push({ type: 'demo run', description: text });
    console.log(`demo run: ${text}`);
  }
  const ranks = await page.getByTestId('rank-numerical').allInnerTexts();
  console.log(`demo ranks (LoRA / RandLoRA / full): ${ranks.join(' / ')}`);
  await page.screenshot({ path: `${ARTIFACTS}/demo-finished.png`, fullPage: true });

  // The worker tuned GEMM tilings after each run's first step (2 s budget each): the GPU dialog
  // says tuning is on and lists the shape classes the runs met, with timings for those tuned.
  await page.getByTestId('gpu-badge').click();
  const headline = page.getByTestId('gpu-tuning-headline');
  await expect(headline).toHaveAttribute('data-enabled', 'true');
  await expect(headline).toContainText(/^on · \d+ shape classes/);
  await expect.poll(() => page.getByTestId('gpu-tuning-row').count()).toBeGreaterThan(3);
  console.log(`demo autotuning: ${await headline.innerText()}`);
  for (const line of await page.getByTestId('gpu-tuning-recent').locator('li').allInnerTexts()) console.log(`  tuning call: ${line}`);
  for (const row of (await page.getByTestId('gpu-tuning-row').evaluateAll((els) => els.map((e) => `${(e as HTMLElement).innerText} ${e.getAttribute('title') ?? ''}`))).slice(0, 6)) {
    console.log(`  tuning row: ${row.replace(/\s+/g, ' ')}`);
  }
  await page.getByTestId('gpu-tuning').screenshot({ path: `${ARTIFACTS}/demo-tuning.png` });
  await page.getByTestId('gpu-close').click();

  expect(external).toEqual([]);
  expect(problems).toEqual([]);
});
