/**
 * Imports an exported adapter (PEFT's folder for LoRA / VeRA / RandLoRA, or Rankscope's NOLA
 * format) back onto its base model, to evaluate it or to keep training it.
 *
 *   const adapter = await readAdapter(source);               // or readAdapterZip(bytes)
 *   const trainer = new Trainer(model, data, norm, { ...adapter.runConfig, … });
 *   await loadAdapterInto(trainer, adapter, { baseModel });  // checks, then uploads
 *
 * An adapter for another base model, another method, other settings, other layers or other
 * shapes is refused with an AdapterImportError saying which. Frozen bases saved in a PEFT file
 * replace the run's own when they differ (PEFT's save_projection semantics); NOLA's are rebuilt
 * from the recorded seed and generator, and refused if the recorded check values disagree.
 */
import { methodById } from '../../adapters';
import type { MethodId } from '../../adapters/types';
import { HEAD_MODULE } from '../../models/names';
import { IoError } from '../errors';
import { readSafetensors, type LoadedTensor } from '../safetensors';
import { readJson, type FileSource } from '../source';
import { AdapterImportError, resolvedMethodConfig, runConfigFromPeft, type AdapterRunConfig } from './config';
import {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  NOLA_CONFIG,
  NOLA_WEIGHTS,
  PEFT_MODEL_PREFIX,
  RUN_NOTE,
  checkpointModuleName,
  classificationName,
  peftModuleName,
  usesTransformers5Names,
  type ExportableRun,
  type PeftNaming,
} from './layout';
import { NOLA_GENERATOR, nolaConfigObject, nolaSettings, type NolaLayerRecord } from './nola';
import { STREAMS } from '../../engine/streams';
import { adapterSlots } from './tensors';
import { unzipToSource } from './zip';

export interface LoadedAdapter {
  format: 'peft' | 'nola';
  /** Which transformers' module names the file uses (NOLA files use the checkpoint's, transformers 4). */
  naming: PeftNaming;
  method: MethodId;
  /** How a run must be set up for this adapter to fit: method, its settings, targets, seed. */
  runConfig: AdapterRunConfig;
  /** base_model_name_or_path as recorded. */
  baseModel: string | null;
  /** adapter_config.json or nola_config.json as read. */
  config: Record<string, unknown>;
  tensors: Map<string, LoadedTensor>;
  /** Class names in label-id order, when the export came from Rankscope (rankscope_run.json). */
  labels?: string[];
  /** Where it came from, for messages. */
  source: string;
}

/**
 * A full module path names the backbone 'vit.…', 'deit.…' or 'vision_model.…' in the
 * classification model; without that part it matches (as a dotted suffix) both that model and a
 * bare backbone loaded without the prefix.
 */
function withoutFamilyPrefix(target: string): string {
  return target.replace(/^(vit|deit|vision_model)\.(?=.*\.)/, '');
}

function asObject(v: unknown, file: string, where: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new IoError('format', `${file} in ${where} is not a JSON object. Export the adapter again.`, file);
  return v as Record<string, unknown>;
}

async function readLabels(source: FileSource): Promise<string[] | undefined> {
  if (!(await source.exists(RUN_NOTE))) return undefined;
  const note = await readJson(source, RUN_NOTE).catch(() => undefined);
  const labels = (note as { labels?: unknown } | undefined)?.labels;
  return Array.isArray(labels) && labels.every((l) => typeof l === 'string') ? (labels as string[]) : undefined;
}

/** Reads an adapter folder: PEFT's adapter_config.json + adapter_model.safetensors, or NOLA's pair. */
export async function readAdapter(source: FileSource): Promise<LoadedAdapter> {
  const where = source.description;
  const labels = await readLabels(source);
  if (await source.exists(ADAPTER_CONFIG)) {
    const config = asObject(await readJson(source, ADAPTER_CONFIG), ADAPTER_CONFIG, where);
    if (!(await source.exists(ADAPTER_WEIGHTS))) {
      const pickle = (await source.exists('adapter_model.bin'))
        ? ' It holds adapter_model.bin, a pickle file Rankscope does not open (loading one can run any code it contains): save the adapter again with safe_serialization=True.'
        : '';
      throw new IoError('not-found', `${where} has ${ADAPTER_CONFIG} but no ${ADAPTER_WEIGHTS}.${pickle}`, ADAPTER_WEIGHTS);
    }
    const runConfig = runConfigFromPeft(config, `${ADAPTER_CONFIG} in ${where}`);
    const tensors = readSafetensors(await source.readBytes(ADAPTER_WEIGHTS), { fileName: `${ADAPTER_WEIGHTS} in ${where}` }).tensors;
    const naming: PeftNaming = usesTransformers5Names(tensors.keys()) ? 'transformers5' : 'transformers4';
    // Our models use the checkpoint's (transformers 4) module names: with transformers 5 names,
    // target the layers the file holds by their checkpoint paths instead.
    if (naming === 'transformers5') {
      const layers = [...tensors.keys()].map((k) => layerOf(k, 'peft')).filter((m): m is string => !!m);
      runConfig.targets = [...new Set(layers.map((m) => checkpointModuleName(m)))].sort();
    }
    runConfig.targets = runConfig.targets.map(withoutFamilyPrefix);
    const base = config.base_model_name_or_path;
    return { format: 'peft', naming, method: runConfig.method, runConfig, baseModel: typeof base === 'string' ? base : null, config, tensors, labels, source: where };
  }
  if (await source.exists(NOLA_CONFIG)) {
    const config = asObject(await readJson(source, NOLA_CONFIG), NOLA_CONFIG, where);
    let parsed;
    try {
      parsed = nolaSettings(config, `${NOLA_CONFIG} in ${where}`);
    } catch (e) {
      throw new AdapterImportError('format', (e as Error).message);
    }
    const tensors = readSafetensors(await source.readBytes(NOLA_WEIGHTS), { fileName: `${NOLA_WEIGHTS} in ${where}` }).tensors;
    const base = config.base_model_name_or_path;
    return {
      format: 'nola',
      naming: 'transformers4',
      method: 'nola',
      runConfig: { method: 'nola', methodConfig: { ...parsed.settings }, targets: parsed.targets.map(withoutFamilyPrefix), seed: parsed.seed },
      baseModel: typeof base === 'string' ? base : null,
      config,
      tensors,
      labels,
      source: where,
    };
  }
  const names = await source.list();
  throw new IoError(
    'not-found',
    `${where} holds no adapter: neither ${ADAPTER_CONFIG} (a PEFT adapter) nor ${NOLA_CONFIG} (a Rankscope NOLA export)` +
      (names ? `; it holds ${names.slice(0, 8).join(', ') || 'nothing'}` : '') +
      '. Pick the folder an export wrote, or its zip.',
    ADAPTER_CONFIG,
  );
}

export function readAdapterZip(zip: Uint8Array, name = 'adapter zip'): Promise<LoadedAdapter> {
  return readAdapter(unzipToSource(zip, name));
}

export interface ImportOptions {
  /** The Hub id or folder the run's model came from, compared with base_model_name_or_path. */
  baseModel?: string;
  /** Accept an adapter whose recorded base model has another name (the same model moved or renamed); shapes are still checked. */
  ignoreBaseModelName?: boolean;
}

export interface ImportReport {
  /** Tensors uploaded into the run. */
  tensors: number;
  /** Shared frozen bases that differed from the run's and were replaced by the file's. */
  basesReplaced: string[];
}

const normalisePath = (s: string) => s.replace(/[\\/]+$/, '');
const describe = (c: Record<string, unknown>) =>
  Object.entries(c)
    .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
    .join(', ');

function checkRun(run: ExportableRun, adapter: LoadedAdapter, opts: ImportOptions): void {
  const method = run.config.method;
  if (method !== adapter.method) {
    throw new AdapterImportError(
      'method',
      `${adapter.source} holds a ${methodById(adapter.method).label} adapter, but this run trains with ${methodById(method).label}. Set the run up with the adapter's method (its runConfig) to import it.`,
    );
  }
  if (opts.baseModel && adapter.baseModel && !opts.ignoreBaseModelName && normalisePath(opts.baseModel) !== normalisePath(adapter.baseModel)) {
    throw new AdapterImportError(
      'base-model',
      `${adapter.source} was trained on ${JSON.stringify(adapter.baseModel)} (base_model_name_or_path), but the loaded model is ${JSON.stringify(opts.baseModel)}. Load ${JSON.stringify(adapter.baseModel)}, or, if it is the same model under another name, import with ignoreBaseModelName.`,
    );
  }
  const ours = resolvedMethodConfig(run, methodById(method).defaults);
  const theirs = adapter.runConfig.methodConfig;
  const differs = Object.keys(theirs).filter((k) => k !== 'init' && k !== 'dInitial' && theirs[k] !== ours[k]);
  if (differs.length) {
    const pick = (c: Record<string, unknown>) => Object.fromEntries(differs.map((k) => [k, c[k]]));
    throw new AdapterImportError(
      'config',
      `${adapter.source} was trained with ${describe(pick(theirs))}, but this run uses ${describe(pick(ours))}. Set the run up with the adapter's settings (its runConfig) to import it.`,
    );
  }
  if (method === 'nola' && (run.config.seed >>> 0) !== adapter.runConfig.seed) {
    throw new AdapterImportError(
      'config',
      `${adapter.source} was trained with NOLA bases from seed ${adapter.runConfig.seed}, but this run's bases come from seed ${run.config.seed}. Set the run's seed to ${adapter.runConfig.seed}.`,
    );
  }
}

/** The layer module (classification naming) a per-layer key belongs to, or undefined for shared/head keys. */
function layerOf(key: string, format: 'peft' | 'nola'): string | undefined {
  let k = key;
  if (format === 'peft') {
    // Tuner-level keys (base_model.vera_A …) belong to no layer.
    if (!key.startsWith(PEFT_MODEL_PREFIX)) return undefined;
    k = key.slice(PEFT_MODEL_PREFIX.length);
  }
  if (k.startsWith(`${HEAD_MODULE}.`)) return undefined;
  const m = /^(.*)\.(lora_A\.weight|lora_B\.weight|vera_lambda_b|vera_lambda_d|randlora_lambda|randlora_gamma|nola_alpha|nola_beta)$/.exec(k);
  return m?.[1];
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]), Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

async function checkNolaBases(run: ExportableRun, adapter: LoadedAdapter): Promise<void> {
  const c = adapter.config;
  if (c.generator !== NOLA_GENERATOR || c.stream_a !== STREAMS.nolaA || c.stream_b !== STREAMS.nolaB || c.distribution !== 'uniform') {
    throw new AdapterImportError(
      'generator',
      `${adapter.source} rebuilds its bases with generator ${JSON.stringify(c.generator)}, streams ${JSON.stringify(c.stream_a)}/${JSON.stringify(c.stream_b)} and a ${JSON.stringify(c.distribution)} distribution; this Rankscope uses ${NOLA_GENERATOR}, streams ${STREAMS.nolaA}/${STREAMS.nolaB}, uniform. It cannot rebuild the same bases.`,
    );
  }
  const theirs = c.layers as Record<string, NolaLayerRecord>;
  const ours = (await nolaConfigObject(run, { baseModel: '', labels: [] })).layers as Record<string, NolaLayerRecord>;
  for (const [module, mine] of Object.entries(ours)) {
    const rec = theirs[module];
    if (!rec) continue; // reported by the tensor check as a missing layer
    if (rec.in_features !== mine.in_features || rec.out_features !== mine.out_features) {
      throw new AdapterImportError(
        'shape',
        `${adapter.source}: layer ${module} was ${rec.out_features}x${rec.in_features} (out x in) when the adapter was trained, but it is ${mine.out_features}x${mine.in_features} in this model. The adapter belongs to another base model.`,
      );
    }
    for (const which of ['check_a', 'check_b'] as const) {
      const a = Float32Array.from(rec[which] ?? []);
      const b = Float32Array.from(mine[which]);
      if (a.length !== b.length || maxRelDiff(a, b) > 1e-5) {
        throw new AdapterImportError(
          'generator',
          `${adapter.source}: the recorded ${which} values of layer ${module} (${Array.from(a.slice(0, 3)).join(', ')} …) differ from the bases this Rankscope builds from the same seed (${Array.from(b.slice(0, 3)).join(', ')} …), so ΔW would not be the one trained.`,
        );
      }
    }
  }
}

/**
 * Checks that the adapter fits the run (method, settings, base model, layers, shapes, classes)
 * and uploads its tensors into the run's adapters and head.
 */
export async function loadAdapterInto(run: ExportableRun, adapter: LoadedAdapter, opts: ImportOptions = {}): Promise<ImportReport> {
  checkRun(run, adapter, opts);
  const format = adapter.format;
  const slots = adapterSlots(run, format, adapter.naming);
  const spec = run.model.spec;

  // Layers: the file must adapt exactly the layers the run adapts.
  const runLayers = new Set([...run.adapters.layers.keys()].map((m) => (format === 'peft' ? peftModuleName(spec, m, adapter.naming) : classificationName(spec, m))));
  const fileLayers = new Set([...adapter.tensors.keys()].map((k) => layerOf(k, format)).filter((m): m is string => !!m));
  const extra = [...fileLayers].filter((m) => !runLayers.has(m));
  const missing = [...runLayers].filter((m) => !fileLayers.has(m));
  if (extra.length || missing.length) {
    const list = (xs: string[]) => xs.slice(0, 3).join(', ') + (xs.length > 3 ? ` and ${xs.length - 3} more` : '');
    throw new AdapterImportError(
      'targets',
      `${adapter.source} adapts other layers than this run` +
        (extra.length ? `: it has ${list(extra)}, which the run does not adapt` : '') +
        (missing.length ? `${extra.length ? ';' : ':'} it lacks ${list(missing)}, which the run adapts` : '') +
        `. Set the run's targets to the adapter's (${adapter.runConfig.targets.join(', ')}), and check that it belongs to this base model.`,
    );
  }

  const known = new Set(slots.map((s) => s.key));
  const unknown = [...adapter.tensors.keys()].filter((k) => !known.has(k));
  if (unknown.length) {
    throw new AdapterImportError('format', `${adapter.source} holds tensors Rankscope cannot place, e.g. ${unknown.slice(0, 3).join(', ')}. Was it saved with options this import does not support?`);
  }

  for (const s of slots) {
    const t = adapter.tensors.get(s.key);
    if (!t) {
      const what = s.role === 'shared' ? 'the shared frozen bases (saved when save_projection is true)' : s.role === 'head' ? 'the classification head (modules_to_save)' : 'a tensor of an adapted layer';
      throw new AdapterImportError('format', `${adapter.source} lacks ${s.key}, ${what}. Export the adapter again with it.`);
    }
    if (!sameShape(t.shape, s.tensor.shape)) {
      if (s.role === 'head') {
        throw new AdapterImportError(
          'labels',
          `${adapter.source}: its classification head ${s.key} has shape ${shapeText(t.shape)}, for ${t.shape[0]} classes, but this run's head has shape ${shapeText(s.tensor.shape)} (${run.model.numLabels} classes). Use a data set with the adapter's classes.`,
        );
      }
      throw new AdapterImportError(
        'shape',
        `${adapter.source}: ${s.key} has shape ${shapeText(t.shape)} but this model needs ${shapeText(s.tensor.shape)}. The adapter was made for another base model or other settings.`,
      );
    }
  }

  if (format === 'nola') await checkNolaBases(run, adapter);

  const basesReplaced: string[] = [];
  for (const s of slots) {
    const data = adapter.tensors.get(s.key)!.data;
    if (s.role === 'shared') {
      const current = await s.tensor.read();
      if (maxRelDiff(current, data) === 0) continue;
      basesReplaced.push(s.key);
    }
    s.tensor.ctx.upload(s.tensor.buffer, data);
  }
  return { tensors: slots.length, basesReplaced };
}
