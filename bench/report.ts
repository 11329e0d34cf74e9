import type { AutotuneReport, TuningSummary } from '../src/engine/tuning/matmulTuner';
/** The benchmark's result: rows of figures, the machine they came from, JSON output and an aligned table. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Suite } from './config';
import type { Timing } from './timing';
import type { StepRow } from './step';
import type { LaunchPathRow } from './launchPath';
import type { TorchStepRow } from './torch';
import type { AttentionBenchResult } from './attention';

export interface BenchRow {
  suite: Suite;
  /** What ran: a product name, or "<method> fused" / "<method> composed". */
  name: string;
  /** The linear layer it belongs to, e.g. "mlp fc1 768→3072". */
  layer: string;
  /** The operand shapes, e.g. "197×768 · (3072×768)ᵀ". */
  shape: string;
  /** Floating-point operations one iteration counts (multiply and add count as two). */
  flops: number;
  /**
   * 'own': the operations this row's computation performs. 'composed': a method's fused row is
   * credited with the FLOPs of the composed computation it replaces, so its GFLOP/s compares directly.
   */
  flopsBasis: 'own' | 'composed';
  iters: number;
  msPerIter: number;
  minMsPerIter: number;
  /** flops / msPerIter. */
  gflops: number;
  gpuMsPerIter?: number;
  /** flops / gpuMsPerIter. */
  gpuGflops?: number;
  /** For a method's fused row: composed time / fused time (above 1 means fused is faster). */
  speedup?: number;
  /** For a method's fused row: max |fused − composed| / max |composed| over y, dx and the gradients. */
  maxRelDiff?: number;
  note?: string;
}

export interface Skipped {
  suite: Suite;
  name: string;
  reason: string;
}

export interface AdapterInfoOut {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isSoftware: boolean;
  features: string[];
}

export interface BenchResult {
  date: string;
  argv: string[];
  options: Record<string, unknown>;
  node: string;
  platform: string;
  adapter: AdapterInfoOut;
  tokens: number;
  profiling: boolean;
  /**
   * Whether layernorm and cross-entropy reduced rows with subgroup operations (the device has
   * `subgroups` and RANKSCOPE_SUBGROUPS is not 0). Layernorm uses them only on rows over 256 wide;
   * cross-entropy always. (Attention's softmax is fused, one row per invocation.)
   */
  subgroup_reductions: boolean;
  tfjs?: { version: string; backend: string; adapter?: Partial<AdapterInfoOut>; error?: string };
  rows: BenchRow[];
  /** The step suite's rows (one training step of the demo model per method), when it ran. */
  steps?: StepRow[];
  /** Host cost of the launch path alone (step suite). */
  launchPath?: LaunchPathRow;
  /** PyTorch fp32 eager on the ViT-B/16 LoRA step (`--torch`). */
  torchStep?: TorchStepRow;
  /** Fused attention at ViT-B/16 shapes against the removed unfused path's bytes (`--only attention`). */
  attention?: AttentionBenchResult;
  /** GEMM autotuning in the step suite: mode, what each method's warm-up tuned, and the winners per shape class. */
  autotune?: { mode: 'on' | 'off' | 'both'; headline: string; reports: AutotuneReport[]; summary?: TuningSummary };
  skipped: Skipped[];
  seconds: number;
}

export function row(
  base: Omit<BenchRow, 'iters' | 'msPerIter' | 'minMsPerIter' | 'gflops' | 'gpuMsPerIter' | 'gpuGflops' | 'flopsBasis'> & {
    flopsBasis?: BenchRow['flopsBasis'];
  },
  t: Timing,
): BenchRow {
  const r: BenchRow = {
    ...base,
    flopsBasis: base.flopsBasis ?? 'own',
    iters: t.iters,
    msPerIter: t.msPerIter,
    minMsPerIter: t.minMsPerIter,
    gflops: base.flops / (t.msPerIter * 1e6),
  };
  if (t.gpuMsPerIter !== undefined && t.gpuMsPerIter > 0) {
    r.gpuMsPerIter = t.gpuMsPerIter;
    r.gpuGflops = base.flops / (t.gpuMsPerIter * 1e6);
  }
  return r;
}

function fmt(x: number | undefined, digits = 3): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1000) return x.toFixed(0);
  return x.toPrecision(digits);
}

/** Renders rows as a table with aligned columns (numbers right-aligned). */
export function table(headers: string[], rows: string[][], numeric: boolean[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatRows(rows: BenchRow[]): string {
  const headers = ['suite', 'layer', 'what', 'shape', 'GFLOP', 'iters', 'ms/iter', 'GFLOP/s', 'GPU ms', 'GPU GFLOP/s', 'vs composed', 'max rel diff'];
  const numeric = [false, false, false, false, true, true, true, true, true, true, true, true];
  const cells = rows.map((r) => [
    r.suite,
    r.layer,
    r.name,
    r.shape,
    fmt(r.flops / 1e9) + (r.flopsBasis === 'composed' ? '*' : ''),
    String(r.iters),
    fmt(r.msPerIter),
    fmt(r.gflops),
    fmt(r.gpuMsPerIter),
    fmt(r.gpuGflops),
    r.speedup === undefined ? '' : `${r.speedup.toFixed(2)}×`,
    r.maxRelDiff === undefined ? '' : r.maxRelDiff.toExponential(1),
  ]);
  return table(headers, cells, numeric);
}

export function formatResult(res: BenchResult): string {
  const a = res.adapter;
  const lines = [
    `adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ')}${a.isSoftware ? ' (software)' : ''}`,
    `node ${res.node} on ${res.platform}; tokens T = ${res.tokens}; GPU time ${res.profiling ? 'from timestamp queries' : 'not measured (no timestamp-query)'}`,
    `row reductions (layernorm, cross-entropy): ${res.subgroup_reductions ? 'subgroups' : 'plain workgroup tree'}${
      res.subgroup_reductions ? '' : res.adapter.features.includes('subgroups') ? ' (RANKSCOPE_SUBGROUPS=0)' : ' (no subgroups feature)'
    }`,
  ];
  if (res.tfjs) {
    lines.push(
      res.tfjs.error
        ? `tfjs: ${res.tfjs.error}`
        : `tfjs ${res.tfjs.version}, backend ${res.tfjs.backend}${res.tfjs.adapter ? ` on ${[res.tfjs.adapter.vendor, res.tfjs.adapter.architecture].filter(Boolean).join(' / ')}` : ''}`,
    );
  }
  lines.push('', formatRows(res.rows));
  if (res.rows.some((r) => r.flopsBasis === 'composed')) {
    lines.push(
      '',
      '* a fused row is credited with the FLOPs of the composed computation it replaces, so its GFLOP/s compares directly with the composed row.',
      '  vs composed: composed ms / fused ms (above 1: fused is faster). max rel diff: max |fused − composed| / max |composed| over y, dx and the gradients.',
    );
  }
  for (const s of res.skipped) lines.push(`skipped ${s.suite} ${s.name}: ${s.reason}`);
  lines.push('', `took ${res.seconds.toFixed(1)} s`);
  return lines.join('\n');
}

export function defaultJsonPath(date: Date): string {
  const stamp = date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  return resolve('bench-results', `bench-${stamp}.json`);
}

export function writeJson(res: BenchResult, path: string): string {
  const full = resolve(path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, `${JSON.stringify(res, null, 2)}\n`);
  return full;
}
