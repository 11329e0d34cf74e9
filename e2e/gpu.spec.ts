import { mkdirSync } from 'node:fs';
import { test, expect, type Page, type TestInfo } from '@playwright/test';

// Screenshots also go to a fixed folder (e2e-artifacts/, ignored by git) so they are easy to find;
// Playwright wipes test-results/ at each run.
const ARTIFACTS = 'e2e-artifacts';

async function screenshot(page: Page, testInfo: TestInfo, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const body = await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
  await testInfo.attach(name, { body, contentType: 'image/png' });
}

test('shows the WebGPU adapter with its vendor, architecture, limits and features', async ({ page }, testInfo) => {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
  });

  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Rankscope', level: 1 })).toBeVisible();

  // The header's badge names the adapter; the full details open from it.
  const badge = page.getByTestId('gpu-badge');
  await expect(badge).toBeVisible();
  await badge.click();
  const adapter = page.getByTestId('gpu-adapter');
  await expect(adapter).toBeVisible();
  await expect(page.getByTestId('gpu-unavailable')).toHaveCount(0);

  const vendor = (await page.getByTestId('gpu-vendor').innerText()).trim();
  const architecture = (await page.getByTestId('gpu-architecture').innerText()).trim();
  expect(vendor).not.toBe('');
  expect(architecture).not.toBe('');
  testInfo.annotations.push({ type: 'adapter', description: `${vendor} / ${architecture}` });

  await expect(page.getByTestId('gpu-limit').filter({ hasText: 'maxStorageBufferBindingSize' })).toBeVisible();

  const features = await page.getByTestId('gpu-feature').evaluateAll((els) =>
    els.map((el) => el.getAttribute('data-feature') ?? ''),
  );
  expect(features.length).toBeGreaterThan(0);
  // SwiftShader and every desktop GPU we know of offer it; fall back to "any feature" elsewhere.
  if (!features.includes('timestamp-query')) console.warn(`no timestamp-query among features: ${features.join(', ')}`);

  await screenshot(page, testInfo, 'gpu-adapter');
  expect(problems).toEqual([]);
});

test('explains what to do when the browser has no WebGPU', async ({ page }, testInfo) => {
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
  });
  await page.goto('/');
  // Check that the stub took effect, or this test would prove nothing.
  expect(await page.evaluate(() => navigator.gpu)).toBeUndefined();

  const notice = page.getByTestId('gpu-unavailable');
  await expect(notice).toBeVisible();
  await expect(notice).toHaveAttribute('data-reason', 'missing');
  await expect(page.getByTestId('gpu-unavailable-message')).toContainText('navigator.gpu is missing');
  await expect(page.getByTestId('gpu-unavailable-message')).toContainText('--enable-unsafe-webgpu');
  await expect(page.getByTestId('gpu-adapter')).toHaveCount(0);
  await expect(page.getByTestId('gpu-badge')).toHaveAttribute('data-state', 'unavailable');
  await screenshot(page, testInfo, 'gpu-unavailable');
});

test('explains what to do when WebGPU offers no adapter', async ({ page }) => {
  await page.addInitScript(() => {
    GPU.prototype.requestAdapter = () => Promise.resolve(null);
  });
  await page.goto('/');
  const notice = page.getByTestId('gpu-unavailable');
  await expect(notice).toBeVisible();
  await expect(notice).toHaveAttribute('data-reason', 'no-adapter');
  await expect(page.getByTestId('gpu-unavailable-message')).toContainText('no GPU adapter was offered');
});

test('the GPU dialog says which precision runs: f32 by default without shader-f16, mixed with ?mixed=1', async ({ page }) => {
  for (const [url, mixed, words] of [
    ['/', 'false', /^f32 \(the default where the GPU has no shader-f16\)/],
    ['/?mixed=1', 'true', /^Mixed precision \(as chosen\): frozen linear weights are stored in f16/],
  ] as const) {
    await page.goto(url);
    await page.getByTestId('gpu-badge').click();
    const section = page.getByTestId('gpu-precision');
    // The lab's worker answers once its device is up.
    await expect(section).toHaveAttribute('data-mixed', mixed, { timeout: 60_000 });
    await expect(section.locator('p')).toHaveText(words);
  }
});

test('the GPU dialog says which reduction path the ops run: subgroup by default on SwiftShader, workgroup with ?subgroups=0', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  for (const [url, path, line] of [
    ['/', 'subgroup', 'Reductions: subgroup (layernorm, cross-entropy)'],
    ['/?subgroups=0', 'workgroup', 'Reductions: workgroup shared memory (turned off by ?subgroups=0)'],
  ] as const) {
    await page.goto(url);
    await page.getByTestId('gpu-badge').click();
    // SwiftShader in headless Chromium offers `subgroups`; the default would be meaningless without it.
    await expect(page.getByTestId('gpu-feature').and(page.locator('[data-feature="subgroups"]'))).toHaveCount(1);
    const section = page.getByTestId('gpu-reductions');
    // The lab's worker answers once its device is up.
    await expect(section).toHaveAttribute('data-path', path, { timeout: 60_000 });
    await expect(page.getByTestId('gpu-reductions-line')).toHaveText(line);
    await expect(section).toContainText('softmax runs inside the fused attention kernel');
    await section.scrollIntoViewIfNeeded();
    await screenshot(page, testInfo, `gpu-reductions-${path}`);
  }
});
