/**
 * Loads a Hugging Face model folder from any FileSource: config.json, the weights from
 * model.safetensors or from the shards a model.safetensors.index.json names, and the image
 * preprocessing. Turning names and shapes into a network is the models layer's job; this only
 * delivers float32 tensors under their Hugging Face names.
 */
import type { GeneratedCheckpoint } from '../models/makeModel';
import { IoError } from './errors';
import { imagePreprocessing, type ImagePreprocessing } from './preprocessor';
import { readSafetensors, type LoadedTensor } from './safetensors';
import { readJson, safeRelativePath, type FileSource, type LoadProgress } from './source';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, type TokenizerFiles } from './tokenizer';

export const SINGLE_WEIGHTS = 'model.safetensors';
export const SHARD_INDEX = 'model.safetensors.index.json';

/**
 * Weight files Rankscope refuses to open. Unpickling runs code the file chooses, so a model
 * from the Hub could take over the page or the machine; safetensors cannot.
 */
const PICKLE_FILE = /(^|\/)[^/]+\.(bin|pt|pth|ckpt|pkl|pickle)$/i;
const PICKLE_PROBES = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'model.pt', 'model.pth', 'model.ckpt', 'pytorch_model.pt'];
const OTHER_FORMATS = /(^|\/)(tf_model\.h5|flax_model\.msgpack|model\.onnx|onnx\/.+\.onnx)$/i;

export interface CheckpointProgress extends LoadProgress {
  /** Which weight file this is (0-based) and how many there are, for an overall bar. */
  fileIndex: number;
  fileCount: number;
}

export interface LoadCheckpointOptions {
  signal?: AbortSignal;
  onProgress?: (p: CheckpointProgress) => void;
  /** Keep only these tensors, e.g. the vision tower of a full CLIPModel checkpoint. */
  filter?: (name: string) => boolean;
}

export interface Checkpoint {
  /** config.json as parsed. */
  config: Record<string, unknown>;
  preprocessor: ImagePreprocessing;
  tensors: Map<string, LoadedTensor>;
  /** The weight files read, in order. */
  weightFiles: string[];
  /** Where it came from, for messages. */
  source: string;
  /** A full CLIP's tokenizer.json (+ tokenizer_config.json); undefined for models without a text tower. */
  tokenizer?: TokenizerFiles;
}

/** Reads tokenizer.json and tokenizer_config.json; a bad file is recorded, not thrown, so the vision side still loads. */
async function readTokenizerFiles(source: FileSource, has: (f: string) => Promise<boolean>, signal?: AbortSignal): Promise<TokenizerFiles> {
  const out: TokenizerFiles = { files: [] };
  for (const file of [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE]) {
    if (!(await has(file))) continue;
    try {
      const v = await readJson(source, file, { signal });
      if (file === TOKENIZER_FILE) out.json = v;
      else out.config = v;
      out.files.push(file);
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      if (file === TOKENIZER_FILE) out.error = (e as Error).message;
    }
  }
  return out;
}

export function pickleRefusal(source: FileSource, files: string[]): IoError {
  return new IoError(
    'pickle',
    `${source.description} has only PyTorch pickle weights (${files.join(', ')}). Rankscope does not open pickle files, because loading ` +
      'one can run any code it contains. Convert the checkpoint to safetensors: for a Hub model, the "convert" Space ' +
      '(huggingface.co/spaces/safetensors/convert) opens a pull request that adds model.safetensors; locally, in Python, ' +
      '`AutoModel.from_pretrained(path).save_pretrained(out_dir)` writes model.safetensors, or ' +
      '`safetensors.torch.save_file(torch.load("pytorch_model.bin", weights_only=True), "model.safetensors")`.',
    files[0],
  );
}

async function lister(source: FileSource, signal?: AbortSignal): Promise<{ has: (f: string) => Promise<boolean>; names: string[] | null }> {
  const names = await source.list({ signal });
  if (names) {
    const set = new Set(names);
    return { names, has: async (f) => set.has(f) };
  }
  return { names: null, has: (f) => source.exists(f, { signal }) };
}

function asObject(v: unknown, file: string, source: FileSource): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new IoError('format', `${file} in ${source.description} is not a JSON object. Download or export it again.`, file);
  }
  return v as Record<string, unknown>;
}

/** Reads the shard index and returns the shard files, each with the tensors it must hold. */
async function readShardIndex(source: FileSource, signal?: AbortSignal): Promise<Map<string, string[]>> {
  const index = asObject(await readJson(source, SHARD_INDEX, { signal }), SHARD_INDEX, source);
  const map = index.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.keys(map).length === 0) {
    throw new IoError('format', `${SHARD_INDEX} in ${source.description} has no "weight_map" object naming the shard of each tensor. Export the model again.`, SHARD_INDEX);
  }
  const shards = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string') {
      throw new IoError('format', `${SHARD_INDEX} in ${source.description} maps tensor "${tensor}" to ${JSON.stringify(shard)}, not to a file name.`, SHARD_INDEX);
    }
    const file = safeRelativePath(shard, source.description);
    if (!file.endsWith('.safetensors')) {
      throw pickleOrForeign(source, file);
    }
    let list = shards.get(file);
    if (!list) shards.set(file, (list = []));
    list.push(tensor);
  }
  return new Map([...shards].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function pickleOrForeign(source: FileSource, file: string): IoError {
  if (PICKLE_FILE.test(file)) return pickleRefusal(source, [file]);
  return new IoError('unsupported', `${source.description} stores weights in ${file}, which is not a safetensors file. Convert the model to safetensors.`, file);
}

export async function loadCheckpoint(source: FileSource, options: LoadCheckpointOptions = {}): Promise<Checkpoint> {
  const { signal, onProgress, filter } = options;
  const { names, has } = await lister(source, signal);

  let weights: Map<string, string[] | null>;
  if (await has(SHARD_INDEX)) weights = await readShardIndex(source, signal);
  else if (await has(SINGLE_WEIGHTS)) weights = new Map([[SINGLE_WEIGHTS, null]]);
  else {
    const pickles = names ? names.filter((n) => PICKLE_FILE.test(n) && !n.includes('/')) : [];
    if (!names) for (const p of PICKLE_PROBES) if (await has(p)) pickles.push(p);
    if (pickles.length > 0) throw pickleRefusal(source, pickles);
    const others = names?.filter((n) => OTHER_FORMATS.test(n)) ?? [];
    const found = names ? ` It holds: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', …' : ''}.` : '';
    throw new IoError(
      'not-found',
      `${source.description} has no ${SINGLE_WEIGHTS} or ${SHARD_INDEX}.` +
        (others.length ? ` Its weights are in ${others.join(', ')}, a format Rankscope does not read: convert the model to safetensors.` : found) +
        ' Point Rankscope at a Hugging Face model folder with safetensors weights.',
      SINGLE_WEIGHTS,
    );
  }

  if (!(await has('config.json'))) {
    throw new IoError(
      'not-found',
      `${source.description} has no config.json, so the architecture is unknown. A Hugging Face model folder has config.json next to its weights.`,
      'config.json',
    );
  }
  const config = asObject(await readJson(source, 'config.json', { signal }), 'config.json', source);
  const preFile = (await has('preprocessor_config.json'))
    ? asObject(await readJson(source, 'preprocessor_config.json', { signal }), 'preprocessor_config.json', source)
    : null;

  const tensors = new Map<string, LoadedTensor>();
  const files = [...weights.keys()];
  for (const [fileIndex, file] of files.entries()) {
    const bytes = await source.readBytes(file, {
      signal,
      onProgress: onProgress && ((p) => onProgress({ ...p, fileIndex, fileCount: files.length })),
    });
    const read = readSafetensors(bytes, { fileName: `${file} in ${source.description}`, filter });
    for (const [name, t] of read.tensors) {
      if (tensors.has(name)) {
        throw new IoError('format', `Tensor "${name}" appears in more than one shard of ${source.description} (again in ${file}). Export the model again.`, file);
      }
      tensors.set(name, t);
    }
    for (const name of weights.get(file) ?? []) {
      if ((!filter || filter(name)) && !read.tensors.has(name)) {
        throw new IoError(
          'format',
          `${SHARD_INDEX} in ${source.description} says tensor "${name}" is in ${file}, but that file does not hold it. The shards and the index do not belong together: download the model again.`,
          file,
        );
      }
    }
  }
  // Only a checkpoint with a text tower (a full CLIPModel) needs its tokenizer.
  const tokenizer = tensors.has('text_model.embeddings.token_embedding.weight') ? await readTokenizerFiles(source, has, signal) : undefined;
  return { config, preprocessor: imagePreprocessing(config, preFile, `preprocessor_config.json in ${source.description}`), tensors, weightFiles: files, source: source.description, tokenizer };
}

/** A checkpoint made in memory by makeModel (tests, the demo's pretraining), as if loaded from its folder. */
export function generatedCheckpoint(made: GeneratedCheckpoint, source = 'generated model'): Checkpoint {
  return {
    tokenizer: made.tokenizer ? { json: made.tokenizer.json, config: made.tokenizer.config, files: [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE] } : undefined,
    config: made.config,
    preprocessor: imagePreprocessing(made.config, made.preprocessorConfig),
    tensors: new Map([...made.tensors].map(([k, v]) => [k, { dtype: 'F32' as const, shape: v.shape, data: v.data }])),
    weightFiles: ['model.safetensors'],
    source,
  };
}
