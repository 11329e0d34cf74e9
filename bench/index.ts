/**
 * `npm run bench`: matmul GFLOP/s at ViT-B/16 shapes, each adapter method's fused forward+backward
 * against the same computation composed from plain matmuls, and tfjs's WebGPU backend as a peer.
 * Prints a table and writes JSON. Never a timed test: bench.test.ts only checks it runs.
 */
import { pathToFileURL } from 'node:url';
import { nodeGpu } from '../src/gpu/node';
import { layers, parseArgs, tokens, UsageError, USAGE, type BenchOptions } from './config';
import { benchMatmul } from './matmul';
import { benchMethods } from './methods';
import { benchLaunchPath, type LaunchPathRow } from './launchPath';
import { benchTorchStep, type TorchStepRow } from './torch';
import { benchStep, formatStepRows, type StepRow } from './step';
import { benchAttention, formatAttention, type AttentionBenchResult } from './attention';
import { defaultJsonPath, formatResult, writeJson, type BenchResult, type BenchRow, type Skipped } from './report';
import { benchTfjs, loadTfjs } from './tfjs';
import { now } from './timing';
import { autotuneFromEnv } from '../src/engine/tuning/nodeAutotune';
import { tuningSummary, type AutotuneReport } from '../src/engine/tuning/matmulTuner';
import { tuningHeadline, tuningRows } from '../src/engine/tuning/describe';

export interface BenchIo {
  /** The table and the JSON path. */
  out: (text: string) => void;
  /** Progress, one line per measurement. */
  progress: (line: string) => void;
}

const consoleIo: BenchIo = {
  out: (text) => console.log(text),
  progress: (line) => console.error(line),
};

export async function main(argv: readonly string[], io: BenchIo = consoleIo): Promise<{ result: BenchResult; path: string }> {
  const opts: BenchOptions = parseArgs(argv);
  const started = now();
  const date = new Date();
  const gpu = await nodeGpu();
  const { ctx, summary } = gpu;
  try {
    const profiling = !opts.noProfile && ctx.enableProfiling();
    const T = tokens(opts);
    const shapes = layers(opts);
    io.progress(`adapter: ${[summary.vendor, summary.architecture, summary.device, summary.description].filter(Boolean).join(' / ')}`);
    io.progress(`tokens T = ${T}; suites: ${opts.suites.join(', ')}; profiling ${profiling ? 'on' : 'off'}`);

    const rows: BenchRow[] = [];
    const skipped: Skipped[] = [];
    let tfjs: BenchResult['tfjs'];
    let steps: StepRow[] | undefined;
    let launchPath: LaunchPathRow | undefined;
    let torchStep: TorchStepRow | undefined;
    let attentionResult: AttentionBenchResult | undefined;
    let autotune: BenchResult['autotune'];
    if (opts.suites.includes('step')) {
      // Tuning as the train CLI does it (file under ~/.cache/rankscope/), unless --autotune off or
      // RANKSCOPE_AUTOTUNE=0; the budget from --tune-budget, else the environment.
      let mode = opts.autotune;
      const env = { ...process.env, ...(opts.tuneBudgetMs !== undefined ? { RANKSCOPE_AUTOTUNE_BUDGET_MS: String(opts.tuneBudgetMs) } : {}) };
      if (mode !== 'off' && !autotuneFromEnv(ctx, env)) {
        io.progress(`autotune: off (RANKSCOPE_AUTOTUNE=${process.env.RANKSCOPE_AUTOTUNE}), though --autotune ${mode} was asked`);
        mode = 'off';
      }
      const reports: AutotuneReport[] = [];
      autotune = { mode, headline: '', reports };
      // Wall and host time of whole steps: timestamp queries would add their own cost to both.
      const profiler = ctx.profiler;
      ctx.profiler = undefined;
      try {
        launchPath = await benchLaunchPath(ctx, opts.quick ? 20 : 400, opts.quick ? 1 : 7);
        io.progress(
          `launch path: ${launchPath.encode_us_per_launch.toFixed(1)} µs/launch to encode (${launchPath.encode_cpu_us_per_launch.toFixed(1)} µs CPU), ` +
            `${launchPath.submit_us_per_launch.toFixed(1)} µs/launch to submit`,
        );
        steps = await benchStep(
          ctx,
          {
            batch: opts.stepBatch,
            methods: opts.methods,
            steps: opts.steps,
            rounds: opts.stepRounds,
            shapes: opts.stepShapes,
            depth: opts.stepDepth,
            targets: opts.stepTargets,
            autotune: mode,
          },
          io.progress,
          reports,
        );
        const summary = tuningSummary(ctx);
        autotune.headline = tuningHeadline(summary);
        if (mode !== 'off') autotune.summary = summary;
      } finally {
        ctx.profiler = profiler;
      }
      if (opts.torch) {
        try {
          torchStep = benchTorchStep({ shape: 'vit-b16', batch: opts.stepBatch ?? 8, steps: opts.steps, depth: opts.stepDepth });
          io.progress(`torch ${torchStep.model} ${torchStep.method}: ${torchStep.ms_per_step.toFixed(0)} ms/step (${torchStep.torch}, ${torchStep.threads} threads)`);
        } catch (e) {
          skipped.push({ suite: 'step', name: 'PyTorch ViT-B/16 LoRA step', reason: (e as Error).message });
        }
      }
    }
    if (opts.suites.includes('attention')) attentionResult = await benchAttention(ctx, opts.quick, io.progress);
    if (opts.suites.includes('matmul')) rows.push(...(await benchMatmul(ctx, T, shapes, opts.budget, io.progress)));
    if (opts.suites.includes('methods')) {
      const m = await benchMethods(ctx, T, shapes, opts, io.progress);
      rows.push(...m.rows);
      skipped.push(...m.skipped);
    }
    if (opts.suites.includes('tfjs')) {
      try {
        const peer = await loadTfjs();
        tfjs = { version: peer.version, backend: peer.backend, adapter: peer.adapter };
        rows.push(...(await benchTfjs(peer, T, shapes, opts.budget, io.progress)));
      } catch (e) {
        const reason = `tfjs WebGPU backend unavailable: ${(e as Error).message}`;
        tfjs = { version: '', backend: '', error: reason };
        skipped.push({ suite: 'tfjs', name: 'tf.matMul', reason });
      }
    }

    const result: BenchResult = {
      date: date.toISOString(),
      argv: [...argv],
      options: { ...opts },
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      adapter: {
        vendor: summary.vendor,
        architecture: summary.architecture,
        device: summary.device,
        description: summary.description,
        isSoftware: summary.isSoftware,
        features: summary.features,
      },
      tokens: T,
      profiling,
      subgroup_reductions: ctx.subgroupReductions,
      tfjs,
      rows,
      steps,
      autotune,
      launchPath,
      torchStep,
      attention: attentionResult,
      skipped,
      seconds: (now() - started) / 1000,
    };
    const path = writeJson(result, opts.out ?? defaultJsonPath(date));
    io.out(formatResult(result));
    if (launchPath) {
      io.out(
        `\nlaunch path (${launchPath.launches_per_batch} launches of a trivial kernel per batch, median of ${launchPath.repetitions}): ` +
          `${launchPath.encode_us_per_launch.toFixed(1)} µs/launch to encode (${launchPath.encode_cpu_us_per_launch.toFixed(1)} µs process CPU), ` +
          `${launchPath.submit_us_per_launch.toFixed(1)} µs/launch to submit`,
      );
    }
    if (steps) io.out(`\nstep suite (targets ${opts.stepTargets.join(',')}; median of ${opts.stepRounds} interleaved rounds × ${opts.steps} steps):\n${formatStepRows(steps)}`);
    if (autotune?.summary) {
      const lines = tuningRows(autotune.summary).map(
        (r) =>
          `  ${r.key.padEnd(26)} ${r.shape.padEnd(16)} ${r.tiling.padEnd(9)} ${r.source.padEnd(8)}` +
          (r.bestMs !== undefined ? ` ${r.bestMs.toFixed(2)} ms` : '') +
          (r.defaultMs !== undefined && r.tiling !== r.defaultTiling ? ` (default ${r.defaultTiling} ${r.defaultMs.toFixed(2)} ms)` : '') +
          (r.note ? ` — ${r.note}` : ''),
      );
      const spent = autotune.reports.reduce((a, r) => a + r.spentMs, 0);
      io.out(`\nGEMM autotuning (${autotune.mode}; ${spent.toFixed(0)} ms spent in the warm-ups; ${autotune.summary.store}): ${autotune.headline}\n${lines.join('\n')}`);
    } else if (autotune) io.out(`\nGEMM autotuning: ${autotune.headline}`);
    if (attentionResult) io.out(`\n${formatAttention(attentionResult)}`);
    if (torchStep) {
      io.out(
        `\nPyTorch ${torchStep.torch} fp32 eager (${torchStep.runtime}, ${torchStep.threads} threads): ${torchStep.model} ${torchStep.method} ` +
          `batch ${torchStep.batch}: ${torchStep.ms_per_step.toFixed(0)} ms/step, ${torchStep.images_per_second.toFixed(2)} img/s`,
      );
    }
    io.out(`\nJSON: ${path}`);
    return { result, path };
  } finally {
    ctx.destroy();
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    // Dawn's threads can keep the process alive after the device is gone.
    () => process.exit(0),
    (e: unknown) => {
      if (e instanceof UsageError) {
        if (e.message) console.error(`bench: ${e.message}`);
        console.error(USAGE);
        process.exit(e.message ? 2 : 0);
      }
      console.error(e);
      process.exit(1);
    },
  );
}
