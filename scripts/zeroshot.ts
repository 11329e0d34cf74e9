/**
 * Zero-shot accuracy of a full CLIP checkpoint on a labelled image set, with no training: the
 * baseline every CLIP fine-tuning result is read against.
 *
 *   npm run zeroshot -- --model <folder or hub id> --data <dataset folder>
 *     [--templates FILE | --template-set default|clip-paper] [--classes a,b,c]
 *     [--val-fraction F] [--val-size N] [--seed N] [--batch N]
 *
 * Prints one JSON line: accuracy, loss, images, classes, templates, prompts, seconds, … .
 * It scores the same validation images `npm run train` validates on with the same data options
 * and seed (an IDX folder's test split, else the seeded held-out fraction), so the numbers
 * compare. --classes replaces the data set's class names (e.g. when they are bare numbers).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeGpu } from '../src/gpu/node';
import { loadCheckpointFrom, loadDatasetFolder } from '../src/io/node';
import { DEFAULT_TARGETS } from '../src/models/names';
import { parseConfig } from '../src/models/spec';
import { parseTemplateFile, TEMPLATE_SETS, type TemplateSetName } from '../src/models/zeroShot';
import { normalisationFor, prepareData } from '../src/session/prepare';
import { loadMethod } from '../src/methods/registry';
import { buildRunModel } from '../src/session/zeroShot';
import { Trainer } from '../src/train/trainer';
import { cliExitCode, UsageError } from './trainRun';

export { UsageError };

export const USAGE =
  'usage: npm run zeroshot -- --model <folder or hub id> --data <dataset folder> [--templates FILE | --template-set default|clip-paper]\n' +
  '  [--classes a,b,c] [--val-fraction F] [--val-size N] [--seed N] [--batch N]';

export interface ZeroShotArgs {
  model: string;
  data: string;
  templatesFile?: string;
  templateSet: TemplateSetName;
  classes?: string[];
  valFraction: number;
  valSize?: number;
  seed: number;
  batch: number;
}

function number(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || v === '' || !Number.isFinite(n)) throw new UsageError(`${flag} needs a number, got ${JSON.stringify(v)}`);
  return n;
}

export function parseZeroShotArgs(argv: readonly string[]): ZeroShotArgs {
  const a: Partial<ZeroShotArgs> = { templateSet: 'default', valFraction: 0.1, seed: 0, batch: 32 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--model') a.model = next();
    else if (flag === '--data') a.data = next();
    else if (flag === '--templates') a.templatesFile = next();
    else if (flag === '--template-set') {
      const v = next();
      if (!(v in TEMPLATE_SETS)) throw new UsageError(`--template-set is ${Object.keys(TEMPLATE_SETS).join(' or ')}, got ${JSON.stringify(v)}`);
      a.templateSet = v as TemplateSetName;
    } else if (flag === '--classes') a.classes = next().split(',').map((s) => s.trim());
    else if (flag === '--val-fraction') a.valFraction = number(flag, next());
    else if (flag === '--val-size') a.valSize = number(flag, next());
    else if (flag === '--seed') a.seed = number(flag, next());
    else if (flag === '--batch') a.batch = number(flag, next());
    else if (flag === '--help' || flag === '-h') throw new UsageError('');
    else throw new UsageError(`unknown option ${flag}`);
  }
  if (!a.model) throw new UsageError('--model is required (a full CLIP checkpoint folder or Hub id)');
  if (!a.data) throw new UsageError('--data is required (IDX files or one subfolder of images per class)');
  return a as ZeroShotArgs;
}

export async function zeroShot(args: ZeroShotArgs, log: (line: string) => void = console.error): Promise<Record<string, unknown>> {
  const started = performance.now();
  const templates = args.templatesFile ? parseTemplateFile(await readFile(args.templatesFile, 'utf8'), args.templatesFile) : [...TEMPLATE_SETS[args.templateSet]];
  log(`Loading model ${args.model} …`);
  const ckpt = await loadCheckpointFrom(args.model);
  log(`Loading data ${args.data} …`);
  const dataset = await loadDatasetFolder(args.data, { split: 'train' });
  let validation;
  try {
    const test = await loadDatasetFolder(args.data, { split: 'test' });
    if (test !== undefined && test.source !== dataset.source) validation = test;
  } catch {
    validation = undefined;
  }
  const data = prepareData(dataset, { valFraction: args.valFraction, seed: args.seed, valLimit: args.valSize }, validation);
  let classNames = data.classNames;
  if (args.classes) {
    if (args.classes.length !== classNames.length) throw new UsageError(`--classes gives ${args.classes.length} names but ${args.data} has ${classNames.length} classes (${classNames.join(', ')}).`);
    classNames = args.classes;
  }
  const gpu = await nodeGpu();
  try {
    const model = await buildRunModel(gpu.ctx, ckpt, classNames, args.seed, 'zeroshot', templates);
    await loadMethod('probe');
    const trainer = new Trainer(model, data, normalisationFor(model.spec, ckpt), {
      method: 'probe',
      targets: DEFAULT_TARGETS[parseConfig(ckpt.config).family],
      head: 'zeroshot',
      templates,
      steps: 0,
      batchSize: args.batch,
    });
    const r = await trainer.evaluate();
    trainer.release();
    model.release();
    return {
      model: args.model,
      data: args.data,
      accuracy: r.accuracy,
      loss: r.loss,
      images: data.val.count,
      classes: classNames,
      templates: templates.length,
      prompts: templates.length * classNames.length,
      confusion: r.confusion,
      seconds: (performance.now() - started) / 1000,
      gpu: gpu.summary.description || `${gpu.summary.vendor} ${gpu.summary.architecture}`,
    };
  } finally {
    gpu.ctx.destroy();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  return cliExitCode('zeroshot', USAGE, async () => {
    console.log(JSON.stringify(await zeroShot(parseZeroShotArgs(argv))));
    return 0;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
