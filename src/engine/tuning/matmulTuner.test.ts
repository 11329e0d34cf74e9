/**
 * GEMM autotuning on a real device (SwiftShader under Dawn): classes recorded as GEMMs launch,
 * every candidate timed, the winner kept in memory and in a JSON file per adapter, loaded back by
 * a later session, a budget that defers classes, the RANKSCOPE_AUTOTUNE=0 opt-out, and a trainer
 * that tunes between its first and second step with results identical to an untuned run.
 * Tuning is off by default in tests (nothing calls autotuneFromEnv); this file turns it on.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testData, useGpu } from '../../testing/gpu';
import { Tensor } from '../tensor';
import { matmul } from '../ops/matmul';
import { shapeClass, TILING_CANDIDATES, tilingId, tilingTable } from '../ops/matmulTiling';
import { FileTuningStore } from './fileTuningStore';
import { autotuneMatmuls, disableAutotune, enableAutotune, loadTuning, pendingClasses, tuningSummary } from './matmulTuner';
import { autotuneFromEnv } from './nodeAutotune';
import { autotuneMessage, tuningHeadline, tuningRows } from './describe';
import { adapterKey, TUNING_VERSION } from './store';

const gpu = useGpu();
const dir = mkdtempSync(join(tmpdir(), 'rankscope-tune-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Two GEMMs of different classes (a forward x·Wᵀ + b with GELU and a weight gradient dYᵀ·x), odd sizes. */
async function twoGemms(): Promise<Float32Array[]> {
  const { ctx } = gpu();
  const x = Tensor.from(ctx, [37, 19], Float32Array.from(testData(37 * 19, 1)));
  const w = Tensor.from(ctx, [70, 19], Float32Array.from(testData(70 * 19, 2)));
  const dy = Tensor.from(ctx, [37, 70], Float32Array.from(testData(37 * 70, 3)));
  const bias = Tensor.from(ctx, [70], Float32Array.from(testData(70, 4)));
  const y = matmul(x, w, { transB: true, bias, activation: 'gelu' });
  const dw = matmul(dy, x, { transA: true });
  const out = [await y.read(), await dw.read()];
  for (const t of [x, w, dy, bias, y, dw]) t.release();
  return out;
}

describe('GEMM autotuning', () => {
  it('times every candidate on each class met, keeps the winner, saves it per adapter, and leaves results unchanged', async () => {
    const { ctx } = gpu();
    const file = join(dir, 'a', 'gemm-tuning.json');
    const before = await twoGemms();
    enableAutotune(ctx, { store: new FileTuningStore(file), budgetMs: 60_000 });
    await twoGemms();
    expect(pendingClasses(ctx)).toBe(2);
    const report = await autotuneMatmuls(ctx);
    expect(report).toMatchObject({ measured: 2, deferred: 0, timer: 'timestamp-query' });
    expect(pendingClasses(ctx)).toBe(0);

    const saved = JSON.parse(readFileSync(file, 'utf8')) as { version: number; adapters: Record<string, { classes: Record<string, { tiling: string; ms: Record<string, number> }> }> };
    expect(saved.version).toBe(TUNING_VERSION);
    const rec = saved.adapters[adapterKey(ctx.device)];
    expect(adapterKey(ctx.device)).toMatch(/swiftshader/i);
    const fwd = shapeClass({ M: 37, N: 70, K: 19, batch: 1, transA: false, transB: true });
    expect(fwd).toBe('tA0 tB1 M64 N128 K32 b1');
    expect(Object.keys(rec.classes).sort()).toEqual([fwd, shapeClass({ M: 70, N: 19, K: 37, batch: 1, transA: true, transB: false })].sort());
    for (const c of Object.values(rec.classes)) {
      // Every candidate was timed, and the winner is the fastest of them.
      expect(Object.keys(c.ms).sort()).toEqual(TILING_CANDIDATES.map(tilingId).sort());
      expect(c.ms[c.tiling]).toBe(Math.min(...Object.values(c.ms)));
      expect(Object.values(c.ms).every((v) => v > 0 && Number.isFinite(v))).toBe(true);
    }
    expect(tilingId(tilingTable(ctx).chosen.get(fwd)!)).toBe(rec.classes[fwd].tiling);

    // The tuner timed each class with its own epilogue, so the winners' pipelines are compiled
    // already: tuned launches compile nothing, and give the same bits as the default tilings did.
    expect(tilingTable(ctx).seen!.get(fwd)!.shape).toMatchObject({ bias: true, activation: 'gelu' });
    const compiled = ctx.pipelines.compiled;
    const after = await twoGemms();
    expect(ctx.pipelines.compiled).toBe(compiled);
    after.forEach((r, i) => expect(Buffer.from(r.buffer).equals(Buffer.from(before[i].buffer))).toBe(true));

    const summary = tuningSummary(ctx);
    expect(summary.enabled).toBe(true);
    expect(summary.classes.map((c) => c.source)).toEqual(['measured', 'measured']);
    const rows = tuningRows(summary);
    expect(rows[0].bestMs).toBeGreaterThan(0);
    expect(rows[0].speedup).toBeGreaterThanOrEqual(1);
    expect(tuningHeadline(summary)).toMatch(/^on · 2 shape classes \(2 measured now, 0 from cache, 0 default\)/);
    expect(report.tilingsTimed).toBe(12);
    expect(report.warmupMs).toBeGreaterThan(0);
    expect(report.warmupMs).toBeLessThan(report.spentMs);
    expect(autotuneMessage(report)).toMatch(/^Tuned the GEMM tiling of 2 shape classes for this GPU in .* \(12 tilings timed by timestamp-query; .* of it compiling\)/);

    // A later session on the same adapter starts from the file: nothing to measure.
    disableAutotune(ctx, 'test');
    expect(tilingTable(ctx).chosen.size).toBe(0);
    enableAutotune(ctx, { store: new FileTuningStore(file), budgetMs: 60_000 });
    await loadTuning(ctx);
    expect(tilingId(tilingTable(ctx).chosen.get(fwd)!)).toBe(rec.classes[fwd].tiling);
    await twoGemms();
    expect(pendingClasses(ctx)).toBe(0);
    expect((await autotuneMatmuls(ctx)).measured).toBe(0);
    expect(tuningSummary(ctx).classes.map((c) => c.source)).toEqual(['cache', 'cache']);
    disableAutotune(ctx, 'test');
  });

  it('defers the classes the budget leaves no time for, and says so', async () => {
    const { ctx } = gpu();
    enableAutotune(ctx, { store: new FileTuningStore(join(dir, 'b', 'gemm-tuning.json')), budgetMs: 0 });
    await twoGemms();
    const report = await autotuneMatmuls(ctx);
    expect(report).toMatchObject({ measured: 0, deferred: 2 });
    expect(tilingTable(ctx).chosen.size).toBe(0);
    expect(autotuneMessage(report)).toMatch(/^Timed GEMM tilings for this GPU .* without finishing a shape class yet\. 2 shape classes did not fit the 0 ms budget/);
    const summary = tuningSummary(ctx);
    expect(summary.classes.every((c) => c.source === 'default' && /budget/.test(c.note ?? ''))).toBe(true);
    disableAutotune(ctx, 'test');
  });

  it('goes on in a later session from the tilings a budget cut short', async () => {
    const { ctx } = gpu();
    const file = join(dir, 'c', 'gemm-tuning.json');
    enableAutotune(ctx, { store: new FileTuningStore(file), budgetMs: 1 });
    await twoGemms();
    // A 1 ms budget still times one tiling, so every call makes progress.
    expect(await autotuneMatmuls(ctx)).toMatchObject({ measured: 0, deferred: 2 });
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { adapters: Record<string, { partial: Record<string, { ms: Record<string, number> }> }> };
    const partial = Object.values(stored.adapters[adapterKey(ctx.device)].partial);
    expect(partial).toHaveLength(1);
    const [firstTiling] = Object.keys(partial[0].ms);
    expect(firstTiling).toBe(tilingId(TILING_CANDIDATES[0]));
    expect(tuningSummary(ctx).classes.find((c) => c.timings.length === 1)?.note).toMatch(/after 1 of 6 tilings/);

    disableAutotune(ctx, 'test');
    enableAutotune(ctx, { store: new FileTuningStore(file), budgetMs: 60_000 });
    await twoGemms();
    expect(await autotuneMatmuls(ctx)).toMatchObject({ measured: 2, deferred: 0 });
    const done = JSON.parse(readFileSync(file, 'utf8')) as { adapters: Record<string, { partial: object; classes: Record<string, { ms: Record<string, number> }> }> };
    const rec = done.adapters[adapterKey(ctx.device)];
    expect(rec.partial).toEqual({});
    // The tiling timed in the first session is among the finished class's timings, as it was measured then.
    const finished = Object.values(rec.classes).find((c) => c.ms[firstTiling] === partial[0].ms[firstTiling]);
    expect(finished).toBeDefined();
    disableAutotune(ctx, 'test');
  });

  it('is switched off by RANKSCOPE_AUTOTUNE=0 and otherwise keeps its file under XDG_CACHE_HOME', () => {
    const { ctx } = gpu();
    expect(autotuneFromEnv(ctx, { RANKSCOPE_AUTOTUNE: '0' })).toBe(false);
    expect(tuningSummary(ctx)).toMatchObject({ enabled: false, disabledReason: 'RANKSCOPE_AUTOTUNE=0' });
    expect(tuningHeadline(tuningSummary(ctx))).toBe('off (RANKSCOPE_AUTOTUNE=0)');
    expect(autotuneFromEnv(ctx, { XDG_CACHE_HOME: dir })).toBe(true);
    expect(tuningSummary(ctx).store).toBe(join(dir, 'rankscope', 'gemm-tuning.json'));
    expect(() => autotuneFromEnv(ctx, { RANKSCOPE_AUTOTUNE_BUDGET_MS: 'soon' })).toThrow(/RANKSCOPE_AUTOTUNE_BUDGET_MS.*"soon"/);
    disableAutotune(ctx, 'test');
  });
});
