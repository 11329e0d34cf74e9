/**
 * Imports an exported adapter (PEFT's folder, or a method's own format such as NOLA's) back onto
 * its base model, to evaluate it or to keep training it.
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
import { loadMethod, methodById, methodRuntime, METHODS, resolvedConfig, type MethodId } from '../../methods/registry';
import { HEAD_MODULE, linearSites, matchesTarget } from '../../models/names';
import { IoError } from '../errors';
import { readSafetensors, type LoadedTensor } from '../safetensors';
import { readJson, type FileSource } from '../source';
import { AdapterImportError, runConfigFromPeft, type AdapterRunConfig } from './config';
import {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  PEFT_MODEL_PREFIX,
  RUN_NOTE,
  ZERO_SHOT_HEAD,
  ZERO_SHOT_HEAD_FILE,
  checkpointModuleName,
  classificationName,
  peftModuleName,
  usesTransformers5Names,
  type ExportableRun,
  type PeftNaming,
} from './layout';
import { adapterSlots, zeroShotHeadSlot, type AdapterFormat } from './tensors';
import { unzipToSource } from './zip';

export interface LoadedAdapter {
  format: AdapterFormat;
  /** Which transformers' module names the file uses (own formats use the checkpoint's, transformers 4). */
  naming: PeftNaming;
  method: MethodId;
  /** How a run must be set up for this adapter to fit: method, its settings, targets, seed. */
  runConfig: AdapterRunConfig;
  /** base_model_name_or_path as recorded. */
  baseModel: string | null;
  /** adapter_config.json, or the own format's config file, as read. */
  config: Record<string, unknown>;
  tensors: Map<string, LoadedTensor>;
  /** Class names in label-id order, when the export came from Rankscope (rankscope_run.json). */
  labels?: string[];
  /** A zero-shot head saved beside the adapter (zero_shot_head.safetensors), when the run had one. */
  zeroShotHead?: LoadedTensor;
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

/** The methods with a format of their own, and their file names. */
function ownFormats(): Array<{ id: MethodId; configFile: string; weightsFile: string; label: string }> {
  return Object.values(METHODS).flatMap((m) =>
    m.export.kind === 'own' ? [{ id: m.id as MethodId, configFile: m.export.configFile, weightsFile: m.export.weightsFile, label: m.label }] : [],
  );
}

async function readZeroShotHead(source: FileSource): Promise<LoadedTensor | undefined> {
  if (!(await source.exists(ZERO_SHOT_HEAD_FILE))) return undefined;
  const file = `${ZERO_SHOT_HEAD_FILE} in ${source.description}`;
  const t = readSafetensors(await source.readBytes(ZERO_SHOT_HEAD_FILE), { fileName: file }).tensors.get(ZERO_SHOT_HEAD);
  if (!t || t.shape.length !== 2) throw new IoError('format', `${file} holds no 2-D ${ZERO_SHOT_HEAD} (classes × projection_dim). Export the adapter again.`, ZERO_SHOT_HEAD_FILE);
  return t;
}

/** Reads an adapter folder: PEFT's adapter_config.json + adapter_model.safetensors, or a method's own pair. */
export async function readAdapter(source: FileSource): Promise<LoadedAdapter> {
  const where = source.description;
  const labels = await readLabels(source);
  const zeroShotHead = await readZeroShotHead(source);
  if (await source.exists(ADAPTER_CONFIG)) {
    const config = asObject(await readJson(source, ADAPTER_CONFIG), ADAPTER_CONFIG, where);
    if (!(await source.exists(ADAPTER_WEIGHTS))) {
      const pickle = (await source.exists('adapter_model.bin'))
        ? ' It holds adapter_model.bin, a pickle file Rankscope does not open (loading one can run any code it contains): save the adapter again with safe_serialization=True.'
        : '';
      throw new IoError('not-found', `${where} has ${ADAPTER_CONFIG} but no ${ADAPTER_WEIGHTS}.${pickle}`, ADAPTER_WEIGHTS);
    }
    const runConfig = await runConfigFromPeft(config, `${ADAPTER_CONFIG} in ${where}`);
    const tensors = readSafetensors(await source.readBytes(ADAPTER_WEIGHTS), { fileName: `${ADAPTER_WEIGHTS} in ${where}` }).tensors;
    const naming: PeftNaming = usesTransformers5Names(tensors.keys()) ? 'transformers5' : 'transformers4';
    // Our models use the checkpoint's (transformers 4) module names: with transformers 5 names,
    // target the layers the file holds by their checkpoint paths instead.
    if (naming === 'transformers5') {
      const keys = new Set(methodRuntime(runConfig.method).peft?.layerKeys ?? []);
      const layers = [...tensors.keys()].map((k) => layerOf(k, 'peft', keys)).filter((m): m is string => !!m);
      runConfig.targets = [...new Set(layers.map((m) => checkpointModuleName(m)))].sort();
    }
    runConfig.targets = runConfig.targets.map(withoutFamilyPrefix);
    const base = config.base_model_name_or_path;
    return { format: 'peft', naming, method: runConfig.method, runConfig, baseModel: typeof base === 'string' ? base : null, config, tensors, labels, zeroShotHead, source: where };
  }
  for (const own of ownFormats()) {
    if (!(await source.exists(own.configFile))) continue;
    const config = asObject(await readJson(source, own.configFile), own.configFile, where);
    const format = (await loadMethod(own.id)).own;
    if (!format) throw new AdapterImportError('unsupported', `${where}: ${own.label} has no format of its own to read ${own.configFile} with.`);
    let parsed;
    try {
      parsed = format.read(config, `${own.configFile} in ${where}`);
    } catch (e) {
      throw new AdapterImportError('format', (e as Error).message);
    }
    const tensors = readSafetensors(await source.readBytes(own.weightsFile), { fileName: `${own.weightsFile} in ${where}` }).tensors;
    const base = config.base_model_name_or_path;
    return {
      format: 'own',
      naming: 'transformers4',
      method: own.id,
      runConfig: { method: own.id, methodConfig: { ...parsed.config }, targets: parsed.targets.map(withoutFamilyPrefix), seed: parsed.seed },
      baseModel: typeof base === 'string' ? base : null,
      config,
      tensors,
      labels,
      zeroShotHead,
      source: where,
    };
  }
  const names = await source.list();
  const own = ownFormats().map((f) => `${f.configFile} (a Rankscope ${f.label} export)`);
  throw new IoError(
    'not-found',
    `${where} holds no adapter: neither ${ADAPTER_CONFIG} (a PEFT adapter) nor ${own.join(' nor ')}` +
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

/** A linear head's adapter cannot go onto a zero-shot-head run, nor the reverse: say which head to pick. */
function checkHeadKind(run: ExportableRun, adapter: LoadedAdapter): void {
  const hasLinear = [...adapter.tensors.keys()].some((k) => k.startsWith(`${PEFT_MODEL_PREFIX}${HEAD_MODULE}.`) || k.startsWith(`${HEAD_MODULE}.`));
  if (run.model.zeroShot && hasLinear) {
    throw new AdapterImportError('labels', `${adapter.source} was trained with a new linear head (${HEAD_MODULE} under modules_to_save), but this run classifies with a zero-shot head. Choose the "New linear head" for this run to import it.`);
  }
  if (!run.model.zeroShot && !hasLinear && adapter.zeroShotHead) {
    throw new AdapterImportError('labels', `${adapter.source} was trained under a zero-shot head (${ZERO_SHOT_HEAD_FILE}), but this run has a new linear head. Load the full CLIP checkpoint and choose a zero-shot head for this run to import it.`);
  }
}

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
  const ours = resolvedConfig(method, run.config.methodConfig);
  const theirs = adapter.runConfig.methodConfig;
  const differs = Object.keys(theirs).filter((k) => k !== 'init' && k !== 'dInitial' && theirs[k] !== ours[k]);
  if (differs.length) {
    const pick = (c: Record<string, unknown>) => Object.fromEntries(differs.map((k) => [k, c[k]]));
    throw new AdapterImportError(
      'config',
      `${adapter.source} was trained with ${describe(pick(theirs))}, but this run uses ${describe(pick(ours))}. Set the run up with the adapter's settings (its runConfig) to import it.`,
    );
  }
}

/** The layer module (classification naming) a per-layer key belongs to, or undefined for shared/head keys. */
function layerOf(key: string, format: AdapterFormat, trainableKeys: ReadonlySet<string>): string | undefined {
  let k = key;
  if (format === 'peft') {
    // Tuner-level keys (base_model.vera_A …) belong to no layer.
    if (!key.startsWith(PEFT_MODEL_PREFIX)) return undefined;
    k = key.slice(PEFT_MODEL_PREFIX.length);
  }
  if (k.startsWith(`${HEAD_MODULE}.`)) return undefined;
  for (const t of trainableKeys) if (k.endsWith(`.${t}`)) return k.slice(0, -t.length - 1);
  return undefined;
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

/**
 * Checks that the adapter fits the run (method, settings, base model, layers, shapes, classes)
 * and uploads its tensors into the run's adapters and head.
 */
export async function loadAdapterInto(run: ExportableRun, adapter: LoadedAdapter, opts: ImportOptions = {}): Promise<ImportReport> {
  checkRun(run, adapter, opts);
  const format = adapter.format;
  const slots = adapterSlots(run, format, adapter.naming);
  const spec = run.model.spec;

  // The adapter's own list of target modules must name layers of this model: a list that matches
  // nothing means another model or an edited file, whatever tensors it carries.
  if (METHODS[adapter.method].usesTargets) {
    const sites = linearSites(spec);
    const targets = adapter.runConfig.targets;
    if (!sites.some((s) => matchesTarget(s.module, targets))) {
      const examples = [...new Set(sites.map((s) => s.module.split('.').slice(-2).join('.')))].slice(0, 6);
      const file = format === 'peft' ? ADAPTER_CONFIG : 'its config file';
      throw new AdapterImportError(
        'targets',
        `${adapter.source}: target_modules ${JSON.stringify(targets)} in ${file} matches no layer of this model, whose linear layers end in e.g. ${examples.join(', ')}. ` +
          'The adapter was made for another model, or its target_modules was edited: fix it, or import it onto the model it was trained on.',
      );
    }
  }

  // Layers: the file must adapt exactly the layers the run adapts.
  const runLayers = new Set([...run.adapters.layers.keys()].map((m) => (format === 'peft' ? peftModuleName(spec, m, adapter.naming) : classificationName(spec, m))));
  const keys = new Set([...run.adapters.layers.values()].flatMap((a) => a.trainables.map((t) => t.key)));
  const fileLayers = new Set([...adapter.tensors.keys()].map((k) => layerOf(k, format, keys)).filter((m): m is string => !!m));
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

  checkHeadKind(run, adapter);
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

  // NaN or ±Inf anywhere would make every prediction NaN: refused, naming the tensor.
  for (const s of slots) {
    const data = adapter.tensors.get(s.key)!.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new AdapterImportError(
          'format',
          `${adapter.source}: ${s.key} holds ${data[i]} at element ${i}, and an adapter with values that are not finite makes every prediction NaN. ` +
            'Export it again from a run that did not diverge (a smaller learning rate, or gradient clipping).',
        );
      }
    }
  }

  const own = format === 'own' ? (await loadMethod(run.config.method)).own : undefined;
  if (own?.verify) {
    try {
      await own.verify(run.adapters, resolvedConfig(run.config.method, run.config.methodConfig), run.config.seed, adapter.config, (m) => classificationName(spec, m), adapter.source);
    } catch (e) {
      const reason = (e as { reason?: AdapterImportError['reason'] }).reason;
      throw new AdapterImportError(reason ?? 'format', (e as Error).message);
    }
  }

  // A frozen zero-shot head is recomputed from class names; the saved one is what the run used, so it wins.
  const head = zeroShotHeadSlot(run);
  if (head && adapter.zeroShotHead) {
    if (!sameShape(adapter.zeroShotHead.shape, head.tensor.shape)) {
      throw new AdapterImportError(
        'labels',
        `${adapter.source}: its zero-shot head (${ZERO_SHOT_HEAD_FILE}) has shape ${shapeText(adapter.zeroShotHead.shape)}, for ${adapter.zeroShotHead.shape[0]} classes, but this run's has shape ${shapeText(head.tensor.shape)}. Use a data set with the adapter's classes and the same CLIP model.`,
      );
    }
    slots.push(head);
  }

  const basesReplaced: string[] = [];
  for (const s of slots) {
    const data = s === head ? adapter.zeroShotHead!.data : adapter.tensors.get(s.key)!.data;
    if (s.role === 'shared') {
      const current = await s.tensor.read();
      if (maxRelDiff(current, data) === 0) continue;
      basesReplaced.push(s.key);
    }
    s.tensor.ctx.upload(s.tensor.buffer, data);
  }
  return { tensors: slots.length, basesReplaced };
}
