/**
 * Adaptive backbone ensembling of finished runs (Rodriguez-Opazo et al.): a small controller reads
 * every member's features and gives each member a temperature per image; the ensemble's logits are
 * Σ_m logits_m / T_m. Members are frozen; only the controller trains, on the training split (few
 * labelled images per class are enough, so --k-shot is the usual setting).
 *
 *   npm run ensemble -- --runs DIR1,DIR2,… [--models M1,M2@zeroshot,…] --data D --out DIR
 *     [--k-shot K] [--train-size N] [--val-size N] [--val-fraction F] [--seed N] [--batch N]
 *     [--steps N] [--width H] [--lr X] [--weight-decay X]
 *
 * Reads the run folders `npm run train` writes (summary.json and merged/). `--models` adds loaded
 * models as members with their own heads: a checkpoint folder (or Hub id) whose `classifier` was
 * trained on the data set's classes, or a full CLIP with `@zeroshot`, whose zero-shot head is made
 * from the class names by its text tower (DIR/members/NN-zero_shot_head.safetensors keeps it for
 * apply_ensemble.py). Writes DIR/summary.json
 * (final_val_accuracy, members with their accuracies on the same validation images,
 * average_accuracy, oracle_accuracy, the controller's settings and loss), DIR/ensemble.json,
 * DIR/controller.safetensors and DIR/apply_ensemble.py, which applies it in Python.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeGpu } from '../src/gpu/node';
import type { Checkpoint } from '../src/io/checkpoint';
import { loadCheckpointFrom, loadDatasetFolder, looksLikePath } from '../src/io/node';
import { ZERO_SHOT_HEAD } from '../src/io/peft/layout';
import { writeSafetensors } from '../src/io/safetensors';
import { parseConfig } from '../src/models/spec';
import { CONTROLLER_DEFAULTS, type ControllerSettings } from '../src/ensemble/controller';
import { ensembleReport } from '../src/ensemble/report';
import { memberOutputs, type MemberOutputs } from '../src/session/ensembleMember';
import { normalisationFor, prepareData } from '../src/session/prepare';
import { zeroShotHead } from '../src/session/zeroShot';
import { workingEdge } from '../src/train/data';
import { ensembleFiles } from '../src/session/ensembleFiles';
import { cliExitCode, UsageError } from './trainRun';
import { number, readRunFolder } from './runFolder';

export { UsageError };

export const USAGE =
  'usage: npm run ensemble -- --runs DIR1,DIR2,… [--models M1,M2@zeroshot,…] --data <dataset folder> --out DIR\n' +
  '  [--k-shot K] [--train-size N] [--val-size N] [--val-fraction F] [--seed N] [--batch N]\n' +
  '  [--steps N] [--width H] [--lr X] [--weight-decay X]';

/** A loaded model as a member: a folder or Hub id, with its trained classifier or (zeroShot) CLIP's zero-shot head. */
export interface ModelMember {
  model: string;
  zeroShot: boolean;
}

export interface EnsembleArgs {
  runs: string[];
  models: ModelMember[];
  data: string;
  out: string;
  kShot?: number;
  trainSize?: number;
  valSize?: number;
  valFraction: number;
  seed: number;
  batch: number;
  controller: ControllerSettings;
}

export function parseEnsembleArgs(argv: readonly string[]): EnsembleArgs {
  const a: Partial<EnsembleArgs> = { valFraction: 0.1, seed: 0, batch: 32 };
  const c: ControllerSettings = { ...CONTROLLER_DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--runs') a.runs = next().split(',').map((s) => s.trim()).filter(Boolean);
    else if (flag === '--models') a.models = next().split(',').map((s) => s.trim()).filter(Boolean).map(modelMember);
    else if (flag === '--data') a.data = next();
    else if (flag === '--out') a.out = next();
    else if (flag === '--k-shot') a.kShot = number(flag, next(), 1);
    else if (flag === '--train-size') a.trainSize = number(flag, next(), 1);
    else if (flag === '--val-size') a.valSize = number(flag, next(), 1);
    else if (flag === '--val-fraction') a.valFraction = number(flag, next(), 0, false);
    else if (flag === '--seed') a.seed = c.seed = number(flag, next(), 0);
    else if (flag === '--batch') a.batch = number(flag, next(), 1);
    else if (flag === '--steps') c.steps = number(flag, next(), 0);
    else if (flag === '--width') c.width = number(flag, next(), 1);
    else if (flag === '--lr') c.lr = number(flag, next(), 0, false);
    else if (flag === '--weight-decay') c.weightDecay = number(flag, next(), 0, false);
    else if (flag === '--help' || flag === '-h') throw new UsageError('');
    else throw new UsageError(`unknown option ${flag}`);
  }
  a.runs ??= [];
  a.models ??= [];
  if (a.runs.length + a.models.length < 2) {
    throw new UsageError('an ensemble needs at least two members: run folders (written by npm run train) in --runs and/or models with their heads in --models, separated by commas');
  }
  if (!a.data) throw new UsageError('--data is required (the data set the members were trained on)');
  if (!a.out) throw new UsageError('--out is required (the folder to write the ensemble to)');
  return { ...(a as EnsembleArgs), controller: c };
}

function modelMember(arg: string): ModelMember {
  const at = arg.lastIndexOf('@');
  if (at > 0 && !arg.slice(at + 1).includes('/')) {
    const head = arg.slice(at + 1);
    if (head !== 'zeroshot') throw new UsageError(`--models: "${arg}" asks for the head "${head}"; the only head to name is @zeroshot (a full CLIP's zero-shot head), else the model's own classifier is used`);
    return { model: arg.slice(0, at), zeroShot: true };
  }
  return { model: arg, zeroShot: false };
}

/** HF's placeholder labels (LABEL_0, …) say nothing about which class is which. */
function namedLabels(config: Record<string, unknown>): string[] | undefined {
  const id2label = config.id2label as Record<string, string> | undefined;
  if (!id2label) return undefined;
  const names = Object.keys(id2label).sort((a, b) => Number(a) - Number(b)).map((k) => id2label[k]);
  return names.every((n, i) => n === `LABEL_${i}`) ? undefined : names;
}

/** One member, from a run folder or a loaded model, before its outputs are read. */
interface Member {
  name: string;
  ckpt: Checkpoint;
  /** Its merged folder for ensemble.json (a run's merged/, or the model folder itself). */
  merged: string;
  method: unknown;
  zeroShot: boolean;
}

export async function ensemble(args: EnsembleArgs, log: (line: string) => void = console.error): Promise<Record<string, unknown>> {
  const started = performance.now();
  const runs = await Promise.all(args.runs.map((d) => readRunFolder(resolve(d))));
  log(`Loading ${runs.length + args.models.length} members …`);
  const members: Member[] = [
    ...(await Promise.all(runs.map(async (r) => ({ name: r.dir, ckpt: await loadCheckpointFrom(r.merged), merged: r.merged, method: r.summary.method, zeroShot: false })))),
    ...(await Promise.all(
      args.models.map(async (m) => {
        const ckpt = await loadCheckpointFrom(m.model).catch((e: Error) => {
          throw new Error(`--models ${m.model}: ${e.message}`);
        });
        return { name: m.model, ckpt, merged: looksLikePath(m.model) ? resolve(m.model) : m.model, method: m.zeroShot ? 'zeroshot' : 'model', zeroShot: m.zeroShot };
      }),
    )),
  ];
  const ckpts = members.map((m) => m.ckpt);
  // One decode for every member: the largest working size any member's processor needs.
  const processors = ckpts.map((c) => normalisationFor(parseConfig(c.config, `${c.source}/config.json`, c.tensors.keys()), c).processor);
  const decode = { edge: Math.max(...processors.map(workingEdge)), resample: processors[0].resample };
  log(`Loading data ${args.data} …`);
  const dataset = await loadDatasetFolder(args.data, { split: 'train', decode });
  let validation = dataset.validation?.set;
  if (!validation) {
    try {
      const test = await loadDatasetFolder(args.data, { split: 'test', decode });
      if (test.source !== dataset.source) validation = test;
    } catch {
      validation = undefined;
    }
  }
  const data = prepareData(dataset, { valFraction: args.valFraction, seed: args.seed, trainLimit: args.trainSize, valLimit: args.valSize, kShot: args.kShot }, validation);
  runs.forEach((r) => {
    const classes = r.summary.classes;
    if (Array.isArray(classes) && JSON.stringify(classes) !== JSON.stringify(data.classNames)) {
      throw new Error(`${r.dir} was trained on the classes ${JSON.stringify(classes)}, but ${args.data} has ${JSON.stringify(data.classNames)}. Ensemble members must share the data set's classes, in the same order.`);
    }
  });
  for (const m of members.slice(runs.length)) {
    const names = m.zeroShot ? undefined : namedLabels(m.ckpt.config);
    if (names && JSON.stringify(names) !== JSON.stringify(data.classNames)) {
      throw new Error(`--models ${m.name}: its classifier's labels (config.json id2label) are ${JSON.stringify(names)}, but ${args.data} has ${JSON.stringify(data.classNames)}. A model member must classify the data set's classes in the same order; for a full CLIP, name it as ${m.name}@zeroshot to use its zero-shot head.`);
    }
  }
  const gpu = await nodeGpu();
  const outs: MemberOutputs[] = [];
  /** Zero-shot heads made here for model members, saved beside ensemble.json. */
  const heads = new Map<number, Float32Array>();
  try {
    for (const [i, m] of members.entries()) {
      log(`Member ${i + 1}/${members.length}: ${m.name} (features and logits of ${data.trainIndices.length} training and ${data.valIndices.length} validation images)`);
      let ckpt = m.ckpt;
      if (m.zeroShot) {
        const head = await zeroShotHead(gpu.ctx, ckpt, data.classNames).catch((e: Error) => {
          throw new Error(`--models ${m.name}@zeroshot: ${e.message}`);
        });
        heads.set(i, head.weight);
        // memberOutputs classifies through a zero-shot head when the checkpoint carries one.
        const tensors = new Map(ckpt.tensors);
        tensors.set(ZERO_SHOT_HEAD, { dtype: 'F32', shape: [data.classNames.length, head.weight.length / data.classNames.length], data: head.weight });
        ckpt = { ...ckpt, tensors };
      }
      outs.push(await memberOutputs(gpu.ctx, ckpt, data, m.name, args.batch));
    }
  } finally {
    gpu.ctx.destroy();
  }
  log(`Training the controller (${args.controller.steps} steps, width ${args.controller.width}) on ${outs[0].train.labels.length} images …`);
  const report = ensembleReport(
    outs.map((o, m) => ({ ...o, name: members[m].name })),
    data.classNames.length,
    args.controller,
  );
  const { controller, losses } = report;
  const memberRows = members.map((r, m) => ({
    ...(m < runs.length ? { run: r.name } : { model: r.name }),
    method: r.method,
    head: outs[m].head,
    image_size: outs[m].imageSize,
    feature_size: outs[m].featureSize,
    accuracy: report.members[m].accuracy,
  }));
  const summary = {
    final_val_accuracy: report.accuracy,
    members: memberRows,
    best_member_accuracy: report.bestMember,
    average_accuracy: report.average,
    oracle_accuracy: report.oracle,
    train_images: report.trainImages,
    val_images: report.valImages,
    k_shot: args.kShot ?? null,
    seed: args.seed,
    controller: { ...args.controller, first_loss: losses[0] ?? null, final_loss: losses[losses.length - 1] ?? null },
    mean_temperatures: report.meanTemperatures,
    classes: data.classNames,
    data: args.data,
    seconds: (performance.now() - started) / 1000,
  };
  const out = resolve(args.out);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const headFile = (i: number) => `members/${String(i + 1).padStart(2, '0')}-zero_shot_head.safetensors`;
  const files = ensembleFiles(
    controller,
    data.classNames,
    members.map((r, m) => ({
      run: r.name,
      merged: r.merged,
      head: outs[m].head,
      feature_size: outs[m].featureSize,
      ...(heads.has(m) ? { zero_shot_head: headFile(m) } : {}),
    })),
  );
  for (const [i, w] of heads) {
    await mkdir(join(out, 'members'), { recursive: true });
    await writeFile(join(out, headFile(i)), writeSafetensors(new Map([[ZERO_SHOT_HEAD, { shape: [data.classNames.length, w.length / data.classNames.length], data: w }]])));
  }
  for (const [name, bytes] of files) await writeFile(join(out, name), bytes);
  log(`Wrote ${join(out, 'summary.json')}, ensemble.json, controller.safetensors, apply_ensemble.py`);
  return summary;
}

export async function main(argv: readonly string[]): Promise<number> {
  return cliExitCode('ensemble', USAGE, async () => {
    const s = await ensemble(parseEnsembleArgs(argv));
    console.log(JSON.stringify({ final_val_accuracy: s.final_val_accuracy, average_accuracy: s.average_accuracy, oracle_accuracy: s.oracle_accuracy, members: (s.members as Array<{ accuracy: number }>).map((m) => m.accuracy) }));
    return 0;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
