/**
 * Writes a seeded random checkpoint in the exact Hugging Face layout (config.json,
 * preprocessor_config.json, model.safetensors) for tests, the correctness suite and demos:
 *
 *   npm run make-model -- --arch vit|deit|clip --preset micro|tiny|small --out DIR [--seed N]
 *                         [--labels N|a,b,c] [--no-head] [--no-text] [--init hf|varied]
 *                         [--hidden N] [--layers N] [--heads N] [--intermediate N]
 *                         [--image-size N] [--patch-size N] [--channels N]
 *
 * For --arch clip it writes a full CLIP by default: the text tower, text_projection,
 * visual_projection, logit_scale and a small tokenizer.json + tokenizer_config.json, so zero-shot
 * heads work on it; --no-text writes only the vision tower.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeSafetensors } from '../src/io/safetensors';
import { hfJson, makeModel, type GeneratedCheckpoint, type InitStyle, type MakeModelOptions, type ModelArch } from '../src/models/makeModel';
import { isPresetName, PRESET_NAMES, type PresetDims } from '../src/models/presets';

/** The files of a checkpoint folder, by file name, as bytes. */
export function checkpointFiles(ckpt: GeneratedCheckpoint): Map<string, Uint8Array> {
  const enc = new TextEncoder();
  const files = new Map<string, Uint8Array>();
  files.set('config.json', enc.encode(hfJson(ckpt.config)));
  files.set('preprocessor_config.json', enc.encode(hfJson(ckpt.preprocessorConfig)));
  files.set('model.safetensors', writeSafetensors(ckpt.tensors, { metadata: { format: 'pt' } }));
  if (ckpt.tokenizer) {
    files.set('tokenizer.json', enc.encode(`${JSON.stringify(ckpt.tokenizer.json, null, 2)}\n`));
    files.set('tokenizer_config.json', enc.encode(hfJson(ckpt.tokenizer.config)));
  }
  return files;
}

/** Writes the checkpoint's files into `dir` (created if needed); returns their paths. */
export async function writeCheckpoint(dir: string, ckpt: GeneratedCheckpoint): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const [name, bytes] of checkpointFiles(ckpt)) {
    const p = join(dir, name);
    await writeFile(p, bytes);
    paths.push(p);
  }
  return paths;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE =
  'usage: npm run make-model -- --arch vit|deit|clip --preset micro|tiny|small --out DIR [--seed N] [--labels N|a,b,c] [--no-head] [--no-text] [--init hf|varied]\n' +
  '       [--hidden N] [--layers N] [--heads N] [--intermediate N] [--image-size N] [--patch-size N] [--channels N]';

const DIM_FLAGS: Record<string, keyof PresetDims> = {
  '--hidden': 'hidden',
  '--layers': 'layers',
  '--heads': 'heads',
  '--intermediate': 'intermediate',
  '--image-size': 'imageSize',
  '--patch-size': 'patchSize',
  '--channels': 'channels',
};

function wholeNumber(flag: string, v: string | undefined, min: number): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${flag} needs a whole number ≥ ${min}, got ${JSON.stringify(v ?? '')}.`);
  return Number(v);
}

export function parseMakeModelArgs(argv: readonly string[]): MakeModelOptions & { out: string } {
  let arch: ModelArch | undefined;
  let out: string | undefined;
  const opts: Omit<MakeModelOptions, 'arch'> = { preset: 'tiny' };
  const dims: Partial<PresetDims> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value.`);
      return v;
    };
    if (a === '--arch') {
      const v = next();
      if (v !== 'vit' && v !== 'deit' && v !== 'clip') throw new UsageError(`--arch must be vit, deit or clip, got ${JSON.stringify(v)}.`);
      arch = v;
    } else if (a === '--preset') {
      const v = next();
      if (!isPresetName(v)) throw new UsageError(`--preset must be one of ${PRESET_NAMES.join(', ')}, got ${JSON.stringify(v)}.`);
      opts.preset = v;
    } else if (a === '--out') out = next();
    else if (a === '--seed') opts.seed = wholeNumber(a, next(), 0);
    else if (a === '--labels') {
      const v = next();
      opts.labels = /^\d+$/.test(v) ? wholeNumber(a, v, 1) : v.split(',').map((s) => s.trim());
    } else if (a === '--no-head') opts.head = false;
    else if (a === '--no-text') opts.text = false;
    else if (a === '--init') {
      const v = next();
      if (v !== 'hf' && v !== 'varied') throw new UsageError(`--init must be hf or varied, got ${JSON.stringify(v)}.`);
      opts.init = v as InitStyle;
    } else if (a in DIM_FLAGS) dims[DIM_FLAGS[a]] = wholeNumber(a, next(), 1);
    else if (a === '--help' || a === '-h') throw new UsageError('');
    else throw new UsageError(`unknown option ${JSON.stringify(a)}.`);
  }
  if (!arch) throw new UsageError('--arch is required.');
  if (!out) throw new UsageError('--out is required (the folder to write the checkpoint into).');
  // A CLIP comes whole (both towers and a tokenizer) unless --no-text.
  if (arch === 'clip') opts.text = opts.text ?? true;
  else if (opts.text === false) throw new UsageError('--no-text applies to --arch clip only.');
  return { ...opts, arch, out, dims };
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: ReturnType<typeof parseMakeModelArgs>;
  try {
    args = parseMakeModelArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`make-model: ${e.message}`);
    console.error(USAGE);
    return 2;
  }
  let ckpt: GeneratedCheckpoint;
  try {
    ckpt = makeModel(args);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const dir = resolve(args.out);
  const paths = await writeCheckpoint(dir, ckpt);
  const params = [...ckpt.tensors.values()].reduce((a, t) => a + t.data.length, 0);
  const s = ckpt.spec;
  console.log(
    `make-model: ${s.architecture} (${args.preset}, seed ${args.seed ?? 0}, init ${args.init ?? 'hf'}): hidden ${s.hidden}, ${s.layers} layers, ${s.heads} heads, ` +
      `image ${s.imageSize}/${s.patchSize}, ${s.channels} channels, ${ckpt.labels.length || 'no'} labels, ${params} parameters`,
  );
  for (const p of paths) console.log(`  ${p}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
