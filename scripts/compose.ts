/**
 * aTLAS composition of finished runs (Zhang et al.): each run's task vector τ_t = θ_t − θ₀ (its
 * merged model minus the base), scaled per block — per group of a block's elements with
 * --groups K — by coefficients learned from 0 on the target data with a new linear head, or for a
 * full CLIP its zero-shot head (--head zeroshot: frozen, only λ train, aTLAS's own setting;
 * --head zeroshot-init: trained from there): θ = θ₀ + Σ_t Σ_b λ_{t,b}·τ_t^(b). Few labelled images
 * are enough, so --k-shot is the usual setting.
 *
 *   npm run compose -- --model BASE --runs DIR1,DIR2,… --data D --out DIR
 *     [--k-shot K] [--groups K] [--steps N] [--seed N] [--batch N] [--lr X] [--head-lr X]
 *     [--weight-decay X] [--warmup N] [--clip X] [--eval-every N]
 *     [--train-size N] [--val-size N] [--val-fraction F]
 *     [--head linear|zeroshot|zeroshot-init] [--templates FILE]   (as npm run train takes them)
 *
 * Reads the run folders `npm run train` writes (summary.json and merged/). Writes DIR/summary.json
 * (final_val_accuracy, base_accuracy, sum_accuracy, members with their accuracies on the same
 * validation images, coefficients, settings, seed), DIR/merged/ (the composed model as a Hugging
 * Face checkpoint) and DIR/composition.json (coefficients [task][block][group], blocks, members
 * and the SHA-256 of their merged weights, K, seed, base model).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeGpu } from '../src/gpu/node';
import { loadCheckpointFrom, writeFilesToFolder } from '../src/io/node';
import { checkComposeHead, COMPOSE_DEFAULTS, ComposeInputError, composeExportFiles, composeRuns, type ComposeMember, type ComposeSettings } from '../src/session/compose';
import { isHeadKind, parseTemplateFile } from '../src/models/zeroShot';
import { prepareData } from '../src/session/prepare';
import { number, readRunFolder } from './runFolder';
import { cliExitCode, loadRunInputs, UsageError } from './trainRun';

export { UsageError, ComposeInputError };

export const USAGE =
  'usage: npm run compose -- --model BASE --runs DIR1,DIR2,… --data <dataset folder> --out DIR\n' +
  '  [--k-shot K] [--groups K] [--steps N] [--seed N] [--batch N] [--lr X] [--head-lr X]\n' +
  '  [--weight-decay X] [--warmup N] [--clip X] [--eval-every N] [--train-size N] [--val-size N] [--val-fraction F]\n' +
  '  [--head linear|zeroshot|zeroshot-init] [--templates FILE]   (CLIP with its text tower: the zero-shot head, frozen or trained;\n' +
  '    FILE holds one prompt template per line, "{}" = class)';

export interface ComposeArgs {
  model: string;
  runs: string[];
  data: string;
  out: string;
  kShot?: number;
  trainSize?: number;
  valSize?: number;
  valFraction: number;
  /** A file of prompt templates for a zero-shot head, one per line. */
  templatesFile?: string;
  settings: ComposeSettings;
}

export function parseComposeArgs(argv: readonly string[]): ComposeArgs {
  const a: Partial<ComposeArgs> = { valFraction: 0.1 };
  const s: ComposeSettings = { ...COMPOSE_DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--model') a.model = next();
    else if (flag === '--runs') a.runs = next().split(',').map((x) => x.trim()).filter(Boolean);
    else if (flag === '--data') a.data = next();
    else if (flag === '--out') a.out = next();
    else if (flag === '--k-shot') a.kShot = number(flag, next(), 1);
    else if (flag === '--train-size') a.trainSize = number(flag, next(), 1);
    else if (flag === '--val-size') a.valSize = number(flag, next(), 1);
    else if (flag === '--val-fraction') a.valFraction = number(flag, next(), 0, false);
    else if (flag === '--groups') s.groups = number(flag, next(), 1);
    else if (flag === '--steps') s.steps = number(flag, next(), 1);
    else if (flag === '--seed') s.seed = number(flag, next(), 0);
    else if (flag === '--batch') s.batchSize = number(flag, next(), 1);
    else if (flag === '--lr') s.lr = number(flag, next(), 0, false);
    else if (flag === '--head-lr') s.headLr = number(flag, next(), 0, false);
    else if (flag === '--weight-decay') s.weightDecay = number(flag, next(), 0, false);
    else if (flag === '--warmup') s.warmupSteps = number(flag, next(), 0);
    else if (flag === '--clip') s.clip = number(flag, next(), 0, false);
    else if (flag === '--eval-every') s.evalEvery = number(flag, next(), 1);
    else if (flag === '--head') {
      const v = next();
      if (!isHeadKind(v)) throw new UsageError(`--head is linear, zeroshot or zeroshot-init, got ${JSON.stringify(v)}`);
      s.head = v;
    } else if (flag === '--templates') a.templatesFile = next();
    else if (flag === '--help' || flag === '-h') throw new UsageError('');
    else throw new UsageError(`unknown option ${flag}`);
  }
  if (!a.model) throw new UsageError('--model is required (the base model the runs were trained from)');
  if (!a.runs || a.runs.length < 1) throw new UsageError('--runs needs at least one run folder (written by npm run train); separate several with commas');
  if (!a.data) throw new UsageError('--data is required (the target data set)');
  if (!a.out) throw new UsageError('--out is required (the folder to write the composition to)');
  if (a.templatesFile && (s.head ?? 'linear') === 'linear') throw new UsageError('--templates is for a zero-shot head: add --head zeroshot or --head zeroshot-init');
  return { ...(a as ComposeArgs), settings: s };
}

const pct = (v: number | null) => (v === null ? '   –   ' : `${(100 * v).toFixed(2).padStart(6)}%`);

export async function compose(args: ComposeArgs, log: (line: string) => void = console.error): Promise<Record<string, unknown>> {
  const started = performance.now();
  const runs = await Promise.all(
    args.runs.map((d) =>
      readRunFolder(resolve(d)).catch((e: Error) => {
        throw new ComposeInputError(e.message);
      }),
    ),
  );
  const inputs = await loadRunInputs({ model: args.model, data: args.data }, log);
  // A zero-shot head on a model without a text tower is refused before anything is read onto the GPU.
  checkComposeHead(inputs.ckpt, args.settings);
  const members: ComposeMember[] = [];
  for (const r of runs) {
    const ckpt = await loadCheckpointFrom(r.merged).catch((e: Error) => {
      throw new ComposeInputError(`${r.dir}: merged/ cannot be loaded (${e.message}). Run npm run train again for it, or leave it out of --runs.`);
    });
    const bytes = await readFile(join(r.merged, 'model.safetensors'));
    members.push({
      name: r.dir,
      checkpoint: ckpt,
      method: typeof r.summary.method === 'string' ? r.summary.method : undefined,
      fingerprint: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      accuracy: typeof r.summary.final_val_accuracy === 'number' ? r.summary.final_val_accuracy : undefined,
    });
  }
  const s: ComposeSettings = { ...args.settings };
  if (args.templatesFile) s.templates = parseTemplateFile(await readFile(args.templatesFile, 'utf8'), args.templatesFile);
  const data = prepareData(inputs.dataset, { valFraction: args.valFraction, seed: s.seed, trainLimit: args.trainSize, valLimit: args.valSize, kShot: args.kShot }, inputs.validation);
  log(`Composing ${members.length} task vector(s) on ${data.trainIndices.length} training images (${s.steps} steps, K = ${s.groups}, ${s.head ?? 'linear'} head); validating on ${data.valIndices.length}`);
  const gpu = await nodeGpu();
  let result;
  try {
    result = await composeRuns(gpu.ctx, inputs.ckpt, members, data, s, {
      onProgress: (p) => {
        if (p.phase === 'members') log(`member ${p.step}/${members.length}: evaluating with its own head`);
        else if (p.valAccuracy !== undefined) log(`${p.phase} step ${p.step}  val_accuracy ${(100 * p.valAccuracy).toFixed(2)}%`);
        else if (p.loss !== undefined && p.phase === 'compose') log(`compose step ${p.step}  loss ${p.loss.toFixed(4)}`);
      },
    });
  } finally {
    gpu.ctx.destroy();
  }
  const c = result.coefficients;
  const summary = {
    final_val_accuracy: result.finalValAccuracy,
    base_accuracy: result.baseAccuracy,
    sum_accuracy: result.sumAccuracy,
    members: result.members.map((m, i) => ({ run: m.name, method: members[i].method ?? null, accuracy: m.accuracy, ...(m.note ? { note: m.note } : {}) })),
    coefficients: { task_vectors: c.taskVectors, blocks: c.blocks, layers: c.layerOf, groups: c.groups, values: c.values },
    unchanged_tensors: result.unchangedTensors.length,
    head: s.head ?? 'linear',
    trainables: result.trainables,
    settings: result.settings,
    seed: s.seed,
    steps: result.steps,
    k_shot: args.kShot ?? null,
    train_images: data.trainIndices.length,
    val_images: data.valIndices.length,
    classes: data.classNames,
    model: args.model,
    data: args.data,
    curve: result.curve,
    seconds: (performance.now() - started) / 1000,
  };
  const out = resolve(args.out);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const files = composeExportFiles(inputs.ckpt, result, { baseModel: args.model, labels: data.classNames, members });
  await rm(join(out, 'merged'), { recursive: true, force: true });
  await writeFilesToFolder(join(out, 'merged'), files.merged);
  await writeFile(join(out, 'composition.json'), files.composition);
  log('');
  log('accuracy on the same validation images:');
  for (const m of summary.members) log(`  ${pct(m.accuracy)}  member ${m.run}${m.note ? ` (${m.note})` : ''}`);
  log(`  ${pct(result.baseAccuracy)}  base (λ = 0, ${s.head === 'zeroshot' ? 'CLIP zero-shot' : `head trained ${result.steps} steps`})`);
  log(`  ${pct(result.sumAccuracy)}  plain sum of task vectors (λ = 1, ${s.head === 'zeroshot' ? 'the frozen zero-shot head' : 'same head recipe'})`);
  log(`  ${pct(result.finalValAccuracy)}  composed (learned λ: ${c.taskVectors.length} × ${c.blocks.length} blocks × ${c.groups} groups)`);
  log(`Wrote ${join(out, 'summary.json')}, merged/, composition.json`);
  return summary;
}

export async function main(argv: readonly string[]): Promise<number> {
  return cliExitCode('compose', USAGE, async () => {
    const s = await compose(parseComposeArgs(argv));
    console.log(JSON.stringify({ final_val_accuracy: s.final_val_accuracy, base_accuracy: s.base_accuracy, sum_accuracy: s.sum_accuracy, members: (s.members as Array<{ accuracy: number | null }>).map((m) => m.accuracy) }));
    return 0;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
