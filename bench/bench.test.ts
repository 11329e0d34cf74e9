/**
 * Smoke test of `npm run bench`: runs it in --quick mode in this process and checks that every
 * suite produced rows with finite, positive figures. No timing assertion: figures on a shared
 * software GPU mean nothing; the benchmark is for reading, not for gating.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from './config';
import { main } from './index';
import { AGREEMENT_TOLERANCE, METHOD_IDS } from './methods';
import type { BenchResult } from './report';

const dir = mkdtempSync(join(tmpdir(), 'rankscope-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench options', () => {
  it('parses flags and rejects unknown ones', () => {
    const o = parseArgs(['--batch', '2', '--only', 'matmul,tfjs', '--out=x.json', '--quick']);
    expect(o.batch).toBe(2);
    expect(o.suites).toEqual(['matmul', 'tfjs']);
    expect(o.out).toBe('x.json');
    expect(o.quick).toBe(true);
    expect(parseArgs([]).suites).toEqual(['matmul', 'methods', 'tfjs']);
    expect(parseArgs(['--only', 'step']).suites).toEqual(['step']);
    expect(parseArgs(['--only', 'step']).stepBatch).toBeUndefined();
    expect(parseArgs(['--only', 'step']).stepShapes).toEqual(['demo']);
    expect(parseArgs(['--only', 'step', '--batch', '4', '--steps', '2'])).toMatchObject({ stepBatch: 4, steps: 2 });
    expect(parseArgs(['--only', 'step', '--shapes', 'demo,vit-b16', '--depth', '1', '--rounds', '3'])).toMatchObject({
      stepShapes: ['demo', 'vit-b16'],
      stepDepth: 1,
      stepRounds: 3,
    });
    expect(() => parseArgs(['--shapes', 'vit-h14'])).toThrow(UsageError);
    expect(() => parseArgs(['--only', 'gemm'])).toThrow(UsageError);
    expect(parseArgs(['--only', 'attention']).suites).toEqual(['attention']);
    expect(() => parseArgs(['--batch', '0'])).toThrow(UsageError);
    expect(() => parseArgs(['--frobnicate'])).toThrow(UsageError);
    expect(parseArgs([]).autotune).toBe('on');
    expect(parseArgs(['--autotune', 'both', '--tune-budget', '500'])).toMatchObject({ autotune: 'both', tuneBudgetMs: 500 });
    expect(() => parseArgs(['--autotune', 'maybe'])).toThrow(/on, off or both/);
  });
});

describe('npm run bench -- --quick', () => {
  it('writes JSON with finite positive GFLOP/s for every row of every suite', async () => {
    const out = join(dir, 'bench.json');
    const printed: string[] = [];
    const { result, path } = await main(['--quick', '--out', out], { out: (t) => printed.push(t), progress: () => {} });
    expect(path).toBe(out);
    const json = JSON.parse(readFileSync(out, 'utf8')) as BenchResult;
    expect(json.rows.length).toBe(result.rows.length);
    expect(json.adapter.vendor.length).toBeGreaterThan(0);

    const bySuite = (s: string) => json.rows.filter((r) => r.suite === s);
    // 3 layers × 3 products; 3 layers × 4 methods × (fused, composed); tfjs like matmul.
    expect(bySuite('matmul')).toHaveLength(9);
    expect(bySuite('methods')).toHaveLength(3 * METHOD_IDS.length * 2);
    expect(json.tfjs?.error).toBeUndefined();
    expect(bySuite('tfjs')).toHaveLength(9);
    expect(json.skipped).toEqual([]);
    for (const r of json.rows) {
      expect(Number.isFinite(r.gflops), `${r.suite} ${r.layer} ${r.name}`).toBe(true);
      expect(r.gflops).toBeGreaterThan(0);
      expect(r.msPerIter).toBeGreaterThan(0);
      expect(r.iters).toBeGreaterThan(0);
    }
    // The fused kernels and the composed reference agree (a correctness check, not a timing one).
    const fused = bySuite('methods').filter((r) => r.name.includes(' fused'));
    expect(fused).toHaveLength(3 * METHOD_IDS.length);
    for (const r of fused) {
      expect(r.maxRelDiff, `${r.layer} ${r.name}`).toBeLessThan(AGREEMENT_TOLERANCE);
      expect(r.speedup).toBeGreaterThan(0);
    }
    expect(printed.join('\n')).toContain('GFLOP/s');
  }, 300_000);
});

describe('npm run bench -- --only step --quick', () => {
  it('writes one row per method and tuning mode with the figures the issue asks for, and a launch-path row', async () => {
    const out = join(dir, 'step.json');
    // Tuning results go to a file under XDG_CACHE_HOME: here a temporary folder, not the user's cache.
    const cacheHome = process.env.XDG_CACHE_HOME;
    const flag = process.env.RANKSCOPE_AUTOTUNE;
    process.env.XDG_CACHE_HOME = join(dir, 'cache');
    // vite.config.ts turns tuning off for tests; this one is about tuning on.
    delete process.env.RANKSCOPE_AUTOTUNE;
    const printed: string[] = [];
    let result: BenchResult;
    try {
      // A 1 ms budget times one tiling per method's warm-up: enough to see tuning run, cheap.
      ({ result } = await main(['--only', 'step', '--quick', '--batch', '2', '--methods', 'lora,full', '--autotune', 'both', '--tune-budget', '1', '--out', out], {
        out: (t) => printed.push(t),
        progress: () => {},
      }));
    } finally {
      if (cacheHome === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = cacheHome;
      if (flag !== undefined) process.env.RANKSCOPE_AUTOTUNE = flag;
    }
    const json = JSON.parse(readFileSync(out, 'utf8')) as BenchResult;
    expect(json.steps?.map((r) => `${r.method} ${r.autotune}`)).toEqual(['lora off', 'lora on', 'full off', 'full on']);
    expect(json.autotune?.mode).toBe('both');
    expect(json.autotune?.reports).toHaveLength(2);
    expect(json.autotune?.summary?.store).toBe(join(dir, 'cache', 'rankscope', 'gemm-tuning.json'));
    expect(json.autotune?.summary?.classes.some((c) => c.timings.length > 0)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'cache', 'rankscope', 'gemm-tuning.json'), 'utf8'))).toHaveProperty('adapters');
    expect(printed.join('\n')).toMatch(/GEMM autotuning \(both;/);
    // Subgroup reductions are on wherever the device has them unless RANKSCOPE_SUBGROUPS=0, and the report says which.
    const forcedOff = /^(0|false|off|no)$/i.test(process.env.RANKSCOPE_SUBGROUPS ?? '');
    expect(json.subgroup_reductions).toBe(json.adapter.features.includes('subgroups') && !forcedOff);
    expect(printed.join('\n')).toMatch(json.subgroup_reductions ? /row reductions \(layernorm, cross-entropy\): subgroups/ : /plain workgroup tree/);
    for (const r of json.steps ?? []) {
      expect(r.model).toBe('demo (3 blocks)');
      for (const v of [r.launches_per_block, r.host_us_per_launch, r.launch_us_per_launch, r.ms_per_step, r.images_per_second, r.peak_gpu_bytes]) {
        expect(Number.isFinite(v) && v > 0, JSON.stringify(r)).toBe(true);
      }
      // LoRA and full fine-tuning keep no frozen bases (an adapter with bases reports their bytes).
      expect(r.frozen_bytes).toBe(0);
      // Everything compiled in the warm-up step, and every bind group came from the cache.
      expect(r.compiled_while_timed).toBe(0);
      expect(r.bind_groups_per_step).toBe(0);
    }
    // Full fine-tuning launches the frozen weights' gradients too.
    expect(json.steps![2].launches_per_step).toBeGreaterThan(json.steps![0].launches_per_step);
    expect(result.launchPath?.encode_us_per_launch).toBeGreaterThan(0);
  }, 300_000);
});

describe('npm run bench -- --only attention --quick', () => {
  it('times the fused attention and reports its bytes against the removed unfused path', async () => {
    const out = join(dir, 'attention.json');
    const printed: string[] = [];
    await main(['--only', 'attention', '--quick', '--out', out], { out: (t) => printed.push(t), progress: () => {} });
    const json = JSON.parse(readFileSync(out, 'utf8')) as BenchResult;
    const [fused, unfused] = json.attention!.rows;
    expect(fused).toMatchObject({ path: 'fused', source: 'measured', launches_forward: 1, launches_backward: 2 });
    expect(unfused).toMatchObject({ path: 'unfused', source: 'analytic', launches_forward: 7, launches_backward: 9 });
    expect(fused.ms_forward! > 0 && fused.ms_backward! > 0).toBe(true);
    // The fused path keeps the logsumexp (B·H·T floats, one pool bucket) for the backward.
    const { batch: B, heads: H, tokens: T } = json.attention!.shape;
    expect(fused.saved_bytes).toBeGreaterThanOrEqual(4 * B * H * T);
    expect(fused.saved_bytes).toBeLessThanOrEqual(256);
    expect(fused.peak_bytes).toBeGreaterThan(0);
    expect(unfused.saved_bytes).toBeGreaterThan(fused.saved_bytes);
    expect(printed.join('\n')).toMatch(/attention forward \+ backward, B=1 H=2 T=20 d=8/);
  }, 120_000);
});
