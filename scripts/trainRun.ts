/**
 * The pieces of `npm run train` (scripts/train.ts is its entry point), shared with `npm run study`
 * (scripts/study.ts), which runs many of these runs on one loaded model and data set.
 *
 * Fine-tunes a ViT / CLIP vision model from the command line, on the same engine as the page:
 *
 *   npm run train -- --model <folder or hub id> --data <dataset folder> --method <lora|randlora|nola|vera|full|probe>
 *     [--rank N] [--alpha X] [--targets a,b] [--steps N] [--batch N] [--lr X] [--seed N] [--out DIR]
 *     [--head-lr X] [--weight-decay X] [--warmup N] [--clip X] [--accumulation N] [--label-smoothing X]
 *     [--train-size N] [--val-size N] [--k-shot K] [--val-fraction F] [--split-seed N] [--eval-every N] [--log-every N]
 *     [--set name=value]   (any other method setting, e.g. --set ka=256 for NOLA, --set rslora=true)
 *     [--peft-naming transformers5|transformers4]   (module names of the PEFT adapter; default transformers5)
 *     [--working-edge N]   (shortest edge photos are kept at after decoding; default the processor's resize size)
 *     [--image-cache DIR|off]   (working-size images by file fingerprint; default ~/.cache/rankscope/images)
 *     [--checkpoint-every N] [--checkpoint-seconds S] [--stop-after N]
 *     [--head linear|zeroshot|zeroshot-init] [--templates FILE]   (CLIP: a new linear head, the zero-shot
 *       head frozen, or the zero-shot head trained; FILE holds one prompt template per line, "{}" = class)
 *
 * Writes DIR/metrics.jsonl (one JSON object per logged step and per evaluation), DIR/summary.json,
 * the trained adapter in DIR/adapter/ (PEFT's adapter_config.json + adapter_model.safetensors for
 * LoRA, VeRA and RandLoRA; Rankscope's NOLA format for NOLA; none for full fine-tuning and the
 * probe) and the merged model in DIR/merged/ (a Hugging Face checkpoint transformers loads).
 * IDX and CIFAR folders with both splits validate on the test split; class folders under train/ and
 * val/ (or valid/, validation/, test/) train on train and validate on the other split, and
 * --val-fraction applies only when there is no validation split.
 *
 * A run checkpoints to DIR/checkpoint/ every N steps (default 50) or S seconds (default 30),
 * whichever comes first; `npm run train -- --resume DIR` continues an interrupted run exactly where
 * its last checkpoint stopped, with every setting taken from DIR. `--stop-after N` checkpoints at
 * step N and exits, to be resumed later.
 *
 * Exit codes: 0 trained, 1 failed (the message says why), 2 bad usage, 3 diverged (summary.json
 * then says "status": "diverged" and why; the exports hold the last finite weights).
 */
import { mkdir, rm, writeFile, appendFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadMethod, methodById } from '../src/methods/registry';
import { nodeGpu, type NodeGpu } from '../src/gpu/node';
import { autotuneFromEnv } from '../src/engine/tuning/nodeAutotune';
import { autotuneMessage } from '../src/engine/tuning/describe';
import type { Checkpoint } from '../src/io/checkpoint';
import type { ImageDataset } from '../src/io/datasets/types';
import { analyseLayers, analysedModules, releaseSnapshot, snapshotWeights } from '../src/train/layerAnalysis';
import { loadCheckpointFrom, loadDatasetFolder, NodeFolderSource, nodeImageCache, writeFilesToFolder } from '../src/io/node';
import { layoutOf } from '../src/io/datasets/load';
import { parseConfig } from '../src/models/spec';
import { workingEdge } from '../src/train/data';
import { exportAdapterFiles, exportMergedFiles, hasAdapterExport, type ExportInfo, type PeftNaming } from '../src/io/peft';
import { DEFAULT_TARGETS } from '../src/models/names';
import { normalisationFor, prepareData } from '../src/session/prepare';
import { Trainer, type MetricRecord, type TrainConfig } from '../src/train/trainer';
import type { MethodId } from '../src/methods/registry';
import { readFile } from 'node:fs/promises';
import { isHeadKind, parseTemplateFile } from '../src/models/zeroShot';
import { buildRunModel } from '../src/session/zeroShot';
import { CHECKPOINT_DIR, clearCheckpointState, loadCheckpointState, readRunArgs, saveCheckpoint, writeRunArgs } from './checkpointing';

export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * The exit code of a CLI's work, as every entry point reports it: `work`'s own code, 2 after a
 * usage error (its message, then `usage`), 1 after any other error (its message), each message
 * prefixed with the command's `name`.
 */
export async function cliExitCode(name: string, usage: string, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) console.error(`${name}: ${e.message}`);
      console.error(usage);
      return 2;
    }
    console.error(`${name}: ${(e as Error).message}`);
    return 1;
  }
}

export const USAGE =
  'usage: npm run train -- --model <folder or hub id> --data <dataset folder> --method <lora|randlora|nola|vera|full|probe>\n' +
  '  [--rank N] [--alpha X] [--targets a,b] [--steps N] [--batch N] [--lr X] [--seed N] [--out DIR]\n' +
  '  [--head-lr X] [--weight-decay X] [--warmup N] [--clip X] [--accumulation N] [--label-smoothing X]\n' +
  '  [--train-size N] [--val-size N] [--k-shot K] [--val-fraction F] [--split-seed N] [--eval-every N] [--log-every N] [--set name=value]\n' +
  '  [--checkpoint-every N] [--checkpoint-seconds S] [--stop-after N]   or: npm run train -- --resume DIR\n' +
  '  [--peft-naming transformers5|transformers4] [--head linear|zeroshot|zeroshot-init] [--templates FILE]\n' +
  '  [--working-edge N] [--image-cache DIR|off]';

export interface TrainArgs {
  model: string;
  data: string;
  method: MethodId;
  rank?: number;
  alpha?: number;
  targets?: string[];
  out: string;
  trainSize?: number;
  valSize?: number;
  kShot?: number;
  /** Seeds the train/validation split alone (default: --seed); a study passes one for all its runs. */
  splitSeed?: number;
  valFraction: number;
  train: Partial<TrainConfig>;
  /** Further method settings by name (--set ka=256). */
  set: Record<string, number | boolean | string>;
  /** Shortest edge images are kept at after decoding; default: the model processor's resize size. */
  workingEdge?: number;
  /** Folder of the working-size image cache, or 'off'; default ~/.cache/rankscope/images. */
  imageCache?: string;
  /** Module names of the exported PEFT adapter (ViT and DeiT differ between transformers 4 and 5). */
  peftNaming?: PeftNaming;
  /** A file of prompt templates for a zero-shot head, one per line. */
  templatesFile?: string;
  /** Checkpoint every this many steps (0: never) … */
  checkpointEvery: number;
  /** … or after this many seconds since the last one, whichever comes first (0: no time trigger). */
  checkpointSeconds: number;
  /** Checkpoint at this step and exit without evaluating or exporting (resume later). */
  stopAfter?: number;
  /** The command line as given, kept in DIR/checkpoint/args.json for --resume. */
  argv: string[];
  /** Continue from DIR/checkpoint/ instead of starting over. */
  resume?: boolean;
}

/** Thrown through Trainer.run to leave it at a checkpoint without the closing evaluation. */
class StopForResume extends Error {}

const NUMBER_FLAGS: Record<string, keyof TrainConfig> = {
  '--steps': 'steps',
  '--batch': 'batchSize',
  '--lr': 'lr',
  '--head-lr': 'headLr',
  '--seed': 'seed',
  '--weight-decay': 'weightDecay',
  '--warmup': 'warmupSteps',
  '--clip': 'clipNorm',
  '--accumulation': 'accumulation',
  '--label-smoothing': 'labelSmoothing',
  '--eval-every': 'evalEvery',
  '--log-every': 'logEvery',
};

/** What each numeric flag accepts; a value outside it is refused before anything loads. */
interface NumberRange {
  min: number;
  /** Whether `min` itself is allowed (learning rates must be > 0, sizes ≥ 1). */
  minInclusive: boolean;
  max?: number;
  maxInclusive?: boolean;
  integer?: boolean;
}

const POSITIVE: NumberRange = { min: 0, minInclusive: false };
const COUNT: NumberRange = { min: 1, minInclusive: true, integer: true };
const NON_NEGATIVE: NumberRange = { min: 0, minInclusive: true };

export const FLAG_RANGES: Record<string, NumberRange> = {
  // 0: evaluate only (a zero-shot run of CLIP's text-tower head).
  '--steps': { ...NON_NEGATIVE, integer: true },
  '--batch': COUNT,
  '--lr': POSITIVE,
  '--head-lr': POSITIVE,
  '--seed': { min: 0, minInclusive: true, integer: true, max: 2 ** 32 - 1, maxInclusive: true },
  '--weight-decay': NON_NEGATIVE,
  '--warmup': { ...NON_NEGATIVE, integer: true },
  '--clip': NON_NEGATIVE,
  '--accumulation': COUNT,
  '--label-smoothing': { min: 0, minInclusive: true, max: 1, maxInclusive: false },
  '--eval-every': COUNT,
  '--log-every': COUNT,
  '--rank': COUNT,
  '--alpha': POSITIVE,
  '--train-size': COUNT,
  '--val-size': COUNT,
  '--k-shot': COUNT,
  '--split-seed': { min: 0, minInclusive: true, integer: true, max: 2 ** 32 - 1, maxInclusive: true },
  '--val-fraction': { min: 0, minInclusive: false, max: 1, maxInclusive: false },
  '--checkpoint-every': { ...NON_NEGATIVE, integer: true },
  '--checkpoint-seconds': NON_NEGATIVE,
  '--stop-after': COUNT,
};

function rangeText(r: NumberRange): string {
  const low = `${r.minInclusive ? 'at least' : 'greater than'} ${r.min}`;
  const high = r.max === undefined ? '' : ` and ${r.maxInclusive ? 'at most' : 'less than'} ${r.max}`;
  return `${r.integer ? 'a whole number ' : 'a number '}${low}${high}`;
}

function number(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || v === '' || !Number.isFinite(n)) throw new UsageError(`${flag} needs a number, got ${JSON.stringify(v)}`);
  const r = FLAG_RANGES[flag];
  if (r) {
    const ok =
      (r.minInclusive ? n >= r.min : n > r.min) &&
      (r.max === undefined || (r.maxInclusive ? n <= r.max : n < r.max)) &&
      (!r.integer || Number.isInteger(n));
    if (!ok) throw new UsageError(`${flag} must be ${rangeText(r)}, got ${v}`);
  }
  return n;
}

export function parseTrainArgs(argv: readonly string[]): TrainArgs {
  const a: Partial<TrainArgs> & { train: Partial<TrainConfig>; set: TrainArgs['set'] } = {
    train: {},
    set: {},
    valFraction: 0.1,
    out: 'runs/latest',
    checkpointEvery: 50,
    checkpointSeconds: 30,
    argv: [...argv],
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const v = argv[i + 1];
    const next = () => {
      i++;
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag in NUMBER_FLAGS) (a.train as Record<string, number>)[NUMBER_FLAGS[flag]] = number(flag, next());
    else if (flag === '--model') a.model = next();
    else if (flag === '--data') a.data = next();
    else if (flag === '--method') a.method = methodById(next()).id;
    else if (flag === '--rank') a.rank = number(flag, next());
    else if (flag === '--alpha') a.alpha = number(flag, next());
    else if (flag === '--targets') a.targets = next().split(',').map((s) => s.trim()).filter(Boolean);
    else if (flag === '--out') a.out = next();
    else if (flag === '--train-size') a.trainSize = number(flag, next());
    else if (flag === '--val-size') a.valSize = number(flag, next());
    else if (flag === '--k-shot') a.kShot = number(flag, next());
    else if (flag === '--split-seed') a.splitSeed = number(flag, next());
    else if (flag === '--val-fraction') a.valFraction = number(flag, next());
    else if (flag === '--checkpoint-every') a.checkpointEvery = number(flag, next());
    else if (flag === '--checkpoint-seconds') a.checkpointSeconds = number(flag, next());
    else if (flag === '--stop-after') a.stopAfter = number(flag, next());
    else if (flag === '--resume') throw new UsageError('--resume takes every setting from the run folder: give it alone, as npm run train -- --resume DIR');
    else if (flag === '--working-edge') a.workingEdge = number(flag, next());
    else if (flag === '--image-cache') a.imageCache = next();
    else if (flag === '--peft-naming') {
      const v = next();
      if (v !== 'transformers5' && v !== 'transformers4') throw new UsageError(`--peft-naming is transformers5 or transformers4, got ${JSON.stringify(v)}`);
      a.peftNaming = v;
    }
    else if (flag === '--head') {
      const v = next();
      if (!isHeadKind(v)) throw new UsageError(`--head is linear, zeroshot or zeroshot-init, got ${JSON.stringify(v)}`);
      a.train.head = v;
    } else if (flag === '--templates') a.templatesFile = next();
    else if (flag === '--set') {
      const [key, value] = next().split('=');
      if (!key || value === undefined) throw new UsageError(`--set takes name=value, e.g. --set ka=256`);
      a.set[key] = value === 'true' ? true : value === 'false' ? false : Number.isFinite(Number(value)) ? Number(value) : value;
    } else if (flag === '--help' || flag === '-h') throw new UsageError('');
    else throw new UsageError(`unknown option ${flag}`);
  }
  if (!a.model) throw new UsageError('--model is required (a Hugging Face model folder or Hub id)');
  if (!a.data) throw new UsageError('--data is required (IDX files or one subfolder of images per class)');
  if (!a.method) throw new UsageError('--method is required');
  return a as TrainArgs;
}

/** --rank and --alpha in each method's own terms: the settings its `knobs` name (none: the flags do not apply). */
export function methodConfigFrom(method: MethodId, rank?: number, alpha?: number): Record<string, unknown> {
  const { knobs } = methodById(method);
  const c: Record<string, unknown> = {};
  if (rank !== undefined && knobs.rank) c[knobs.rank] = rank;
  if (alpha !== undefined && knobs.scale) c[knobs.scale] = alpha;
  return c;
}

/** The checkpoint and the data set (with its validation split), loaded once for one run or a whole study. */
export interface RunInputs {
  ckpt: Checkpoint;
  dataset: ImageDataset;
  validation: ImageDataset | undefined;
}

/** Loads --model and --data as a run uses them (working-size decode, image cache, the test split for IDX/CIFAR/parquet). */
export async function loadRunInputs(args: Pick<TrainArgs, 'model' | 'data' | 'workingEdge' | 'imageCache'>, log: (line: string) => void = console.log): Promise<RunInputs> {
  log(`Loading model ${args.model} …`);
  const ckpt = await loadCheckpointFrom(args.model);
  log(`Loading data ${args.data} …`);
  // Photos are decoded straight to the model processor's resize size (never held at full size).
  const processor = normalisationFor(parseConfig(ckpt.config, `${ckpt.source}/config.json`, ckpt.tensors.keys()), ckpt).processor;
  const decode = { edge: args.workingEdge ?? workingEdge(processor), resample: processor.resample };
  const loadStart = performance.now();
  let lastShown = 0;
  // Working-size images are cached by file fingerprint and held on disk, read per batch: a second
  // run on the same folder decodes nothing, and memory does not grow with the set.
  const cache = args.imageCache === 'off' ? undefined : nodeImageCache(decode.edge, decode.resample, { dir: args.imageCache, onDisk: true });
  const dataset = await loadDatasetFolder(args.data, {
    split: 'train',
    decode,
    cache,
    onProgress: (p) => {
      const now = performance.now();
      if (p.done === p.total || now - lastShown > 2000) {
        lastShown = now;
        log(`  decoded ${p.done}/${p.total} images`);
      }
    },
  });
  log(
    `Loaded ${dataset.images.length + (dataset.validation?.set.images.length ?? 0)} images in ${((performance.now() - loadStart) / 1000).toFixed(1)} s ` +
      `(kept at shortest edge ${decode.edge}${cache ? `, cached in ${cache.dir}` : ''})`,
  );
  let validation = dataset.validation?.set;
  if (validation) log(`Validating on the ${dataset.validation!.split} split (${validation.images.length} images); --val-fraction does not apply`);
  else if (layoutOf((await new NodeFolderSource(args.data).list()) ?? []) !== 'class-folders') {
    try {
      // IDX, CIFAR and parquet sets carry a test split: validate on it rather than on held-out
      // training images. (Class folders say their splits by folder name, handled above.)
      const test = await loadDatasetFolder(args.data, { split: 'test', decode });
      if (test.source !== dataset.source) {
        validation = test;
        log(`Validating on the test split (${test.images.length} images)`);
      }
    } catch {
      validation = undefined;
    }
  }
  if (dataset.skipped.length) log(`Skipped ${dataset.skipped.length} unreadable file(s), e.g. ${dataset.skipped[0].file}: ${dataset.skipped[0].reason}`);
  return { ckpt, dataset, validation };
}

export async function train(args: TrainArgs, log: (line: string) => void = console.log): Promise<Record<string, unknown>> {
  await mkdir(resolve(args.out), { recursive: true });
  const inputs = await loadRunInputs(args, log);
  const gpu = await nodeGpu();
  log(`GPU: ${gpu.summary.vendor} ${gpu.summary.architecture} ${gpu.summary.description}`.trim());
  // GEMM tilings tuned for this GPU after the first step, kept in ~/.cache/rankscope/ (RANKSCOPE_AUTOTUNE=0: off).
  autotuneFromEnv(gpu.ctx);
  try {
    return await trainLoaded(args, inputs, gpu, log);
  } finally {
    gpu.ctx.destroy();
  }
}

/**
 * One run on inputs already loaded and a GPU already acquired (a study runs many on the same
 * ones): trains, writes DIR/metrics.jsonl, DIR/summary.json and the exports, and releases the run's
 * model; the GPU stays with the caller.
 */
export async function trainLoaded(args: TrainArgs, inputs: RunInputs, gpu: NodeGpu, log: (line: string) => void = console.log): Promise<Record<string, unknown>> {
  const out = resolve(args.out);
  await mkdir(out, { recursive: true });
  const seed = args.train.seed ?? 0;
  const { ckpt, dataset, validation } = inputs;
  const data = prepareData(
    dataset,
    { valFraction: args.valFraction, seed, splitSeed: args.splitSeed, trainLimit: args.trainSize, valLimit: args.valSize, kShot: args.kShot },
    validation,
  );
  await loadMethod(args.method);
  if (args.templatesFile) args.train.templates = parseTemplateFile(await readFile(args.templatesFile, 'utf8'), args.templatesFile);
  const model = await buildRunModel(gpu.ctx, ckpt, data.classNames, seed, args.train.head, args.train.templates);
  // Released whatever happens, so a failed run does not keep its GPU memory from the next (a study's).
  const cleanup: Array<() => void> = [() => model.release()];
  try {
    const norm = normalisationFor(model.spec, ckpt);
    const trainer = new Trainer(model, data, norm, {
      ...args.train,
      method: args.method,
      methodConfig: { ...methodConfigFrom(args.method, args.rank, args.alpha), ...args.set },
      targets: args.targets ?? DEFAULT_TARGETS[model.spec.family],
    });
    cleanup.push(() => trainer.release());
    // Full fine-tuning's W0 of every targeted layer, taken before a resume overwrites the weights.
    const initial = trainer.adapters.trainsBackbone ? snapshotWeights(model, analysedModules(trainer)) : undefined;
    cleanup.push(() => releaseSnapshot(initial));
    const metricsFile = join(out, 'metrics.jsonl');
    let metricLines = 0;
    if (args.resume) {
      const saved = await loadCheckpointState(out);
      if (!saved) throw new Error(`${join(out, CHECKPOINT_DIR)} holds no saved state to resume from: the run stopped before its first checkpoint. Start it again.`);
      trainer.restoreState(saved.state);
      // Metrics logged after the checkpoint are logged again by the resumed steps.
      const lines = (await readFile(metricsFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
      metricLines = Math.min(saved.metricLines, lines.length);
      await writeFile(metricsFile, lines.slice(0, metricLines).map((l) => `${l}\n`).join(''));
      log(`Resuming at step ${saved.state.step} of ${trainer.config.steps} from ${join(out, CHECKPOINT_DIR)}`);
    } else {
      await writeFile(metricsFile, '');
      await writeRunArgs(out, args.argv);
    }
    log(`${methodById(args.method).label}: ${trainer.trainableParams.toLocaleString('en-US')} trainable parameters; ${data.train.count} training, ${data.val.count} validation images`);
    const pending: Promise<void>[] = [];
    const onMetric = (m: MetricRecord) => {
      const { kind, ...rest } = m;
      pending.push(appendFile(metricsFile, `${JSON.stringify(rest)}\n`));
      metricLines++;
      if (kind === 'train') log(`step ${m.step}  loss ${m.loss.toFixed(4)}  lr ${m.lr.toExponential(2)}  ${m.images_per_second.toFixed(1)} img/s`);
      else log(`step ${m.step}  val_loss ${m.val_loss.toFixed(4)}  val_accuracy ${(100 * m.val_accuracy).toFixed(2)}%`);
    };
    let lastCheckpoint = Date.now();
    const afterStep = async (step: number) => {
      const stop = args.stopAfter !== undefined && step >= args.stopAfter;
      const due =
        (args.checkpointEvery > 0 && step % args.checkpointEvery === 0) ||
        (args.checkpointSeconds > 0 && Date.now() - lastCheckpoint >= args.checkpointSeconds * 1000);
      if ((due || stop) && step < trainer.config.steps) {
        await Promise.all(pending);
        await saveCheckpoint(out, trainer, metricLines);
        lastCheckpoint = Date.now();
      }
      if (stop && step < trainer.config.steps) throw new StopForResume();
    };
    let s;
    try {
      s = await trainer.run({ onMetric, afterStep, onAutotune: (r) => log(autotuneMessage(r)), onPrecision: (r) => log(r.message) });
    } catch (e) {
      if (!(e instanceof StopForResume)) throw e;
      await Promise.all(pending);
      log(`Stopped at step ${trainer.currentStep} with a checkpoint; continue with: npm run train -- --resume ${args.out}`);
      return { status: 'stopped', steps: trainer.currentStep };
    }
    await Promise.all(pending);
    // Every targeted layer's ΔW ranks and intruder dimensions (W0's SVDs cached per checkpoint, so a study decomposes them once).
    const analysis = await analyseLayers(trainer, { initial, cacheOwner: ckpt });
    const summary = {
      status: s.status,
      ...(s.divergence ? { divergence: s.divergence } : {}),
      method: s.method,
      head: s.head,
      model: args.model,
      data: args.data,
      trainable_params: s.trainable_params,
      steps: s.steps,
      final_val_accuracy: s.final_val_accuracy,
      best_val_accuracy: s.best_val_accuracy,
      final_val_loss: s.final_val_loss,
      seconds: s.seconds,
      steps_per_second: s.steps / s.seconds,
      peak_gpu_bytes: s.peak_gpu_bytes,
      rank_numerical: analysis.rank_numerical,
      rank_effective: analysis.rank_effective,
      intruders: analysis.intruders,
      intruders_per_layer: analysis.intruders_per_layer,
      layer_ranks: analysis.layer_ranks,
      config: trainer.config,
      classes: data.classNames,
      confusion: s.confusion,
      gpu: gpu.summary.description || `${gpu.summary.vendor} ${gpu.summary.architecture}`,
    };
    await writeFile(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    const written = await writeExports(out, trainer, {
      baseModel: args.model,
      labels: data.classNames,
      preprocessor: ckpt.preprocessor.raw,
      peftNaming: args.peftNaming,
      tokenizer: ckpt.tokenizer,
    });
    log(`Wrote ${[metricsFile, join(out, 'summary.json'), ...written].join(', ')}`);
    if (s.divergence) log(s.divergence.message);
    await clearCheckpointState(out);
    return summary;
  } finally {
    for (const c of cleanup.reverse()) c();
  }
}

/**
 * DIR/adapter/ (PEFT's files, or NOLA's format) where the method has an adapter, and DIR/merged/
 * (a Hugging Face checkpoint with W + ΔW and the trained head). Returns the folders written.
 */
async function writeExports(out: string, trainer: Trainer, info: ExportInfo): Promise<string[]> {
  const written: string[] = [];
  const adapterDir = join(out, 'adapter');
  // A previous run's files in the same folder would otherwise sit beside this run's.
  await rm(adapterDir, { recursive: true, force: true });
  if (hasAdapterExport(trainer.config.method)) {
    await writeFilesToFolder(adapterDir, await exportAdapterFiles(trainer, info));
    written.push(adapterDir);
  }
  const mergedDir = join(out, 'merged');
  await rm(mergedDir, { recursive: true, force: true });
  await writeFilesToFolder(mergedDir, await exportMergedFiles(trainer, info));
  written.push(mergedDir);
  return written;
}

/** `--resume DIR`: the run's own command line from DIR, continued from its checkpoint. */
export async function resumeArgs(argv: readonly string[]): Promise<TrainArgs | undefined> {
  if (argv[0] !== '--resume') return undefined;
  if (argv.length !== 2) throw new UsageError('--resume takes one run folder and no other option: npm run train -- --resume DIR');
  const saved = await readRunArgs(resolve(argv[1]));
  const args = parseTrainArgs(saved);
  // The folder may have moved since: resume where it is now, and run to the end this time.
  return { ...args, out: argv[1], resume: true, stopAfter: undefined };
}
