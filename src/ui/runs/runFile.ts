/**
 * Run files (`.rankscope.json`): one finished run or several, with everything the page shows for
 * them (settings, metrics, ΔW spectra, the comparison numbers, per-class accuracy and confusion
 * matrix), where they trained (GPU adapter, browser) and what on (model and data set: name and a
 * SHA-256 of their files). Importing one in another browser shows the same charts and tables,
 * marked as imported. Plain JSON, so it also reads in Python: json.load(open(path))["runs"].
 */
import { METHODS, type MethodId } from '../../methods/registry';
import type { Fingerprint } from '../../io/sources/fingerprinting';
import { isHeadKind } from '../../models/zeroShot';
import type { RunSpec } from '../../session/run';
import { FINISHED, type RunView } from '../state/runStore';
import type { RunEnvironment } from './environment';

export const RUN_FILE_FORMAT = 'rankscope-runs';
export const RUN_FILE_VERSION = 1;
export const RUN_FILE_EXTENSION = '.rankscope.json';

export interface RunFileRun {
  id: string;
  name: string;
  color: string;
  state: 'done' | 'stopped' | 'diverged';
  /** A diverged run's message: at which step, at which learning rate, what to try. */
  error?: string;
  created_at: string;
  spec: RunSpec;
  trainable_params?: number;
  rank_layer?: string;
  model?: { name: string; fingerprint?: Fingerprint };
  dataset?: { name: string; fingerprint?: Fingerprint };
  environment?: RunEnvironment;
  metrics: { train: RunView['train']; eval: RunView['evals'] };
  spectra: RunView['spectra'];
  result?: RunView['result'];
  /** Set when this run itself came from a run file. */
  imported_from?: string;
}

export interface RunFile {
  format: typeof RUN_FILE_FORMAT;
  format_version: number;
  exported_at: string;
  runs: RunFileRun[];
}

/** Runs that can go into a run file: ended with numbers to show. */
export function exportable(view: RunView): boolean {
  return FINISHED.has(view.state) && view.state !== 'failed' && (view.train.length > 0 || view.result !== undefined);
}

function fileRun(v: RunView): RunFileRun {
  return {
    id: v.spec.id,
    name: v.spec.name,
    color: v.color,
    state: v.state === 'stopped' || v.state === 'diverged' ? v.state : 'done',
    ...(v.state === 'diverged' && v.error ? { error: v.error } : {}),
    created_at: new Date(v.createdAt).toISOString(),
    spec: v.spec,
    ...(v.trainableParams !== undefined ? { trainable_params: v.trainableParams } : {}),
    ...(v.rankLayer ? { rank_layer: v.rankLayer } : {}),
    ...(v.model ? { model: { name: v.model, ...(v.modelFingerprint ? { fingerprint: v.modelFingerprint } : {}) } } : {}),
    ...(v.dataset ? { dataset: { name: v.dataset, ...(v.datasetFingerprint ? { fingerprint: v.datasetFingerprint } : {}) } } : {}),
    ...(v.environment ? { environment: v.environment } : {}),
    metrics: { train: v.train, eval: v.evals },
    spectra: v.spectra,
    ...(v.result ? { result: v.result } : {}),
    ...(v.imported ? { imported_from: v.imported.file } : {}),
  };
}

/** The run file of these runs; refuses runs still training or failed, naming them. */
export function runFileJson(views: RunView[], now = new Date()): string {
  const bad = views.filter((v) => !exportable(v));
  if (bad.length) throw new Error(`Only finished runs go into a run file; ${bad.map((v) => `"${v.spec.name}" (${v.state})`).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not.`);
  if (!views.length) throw new Error('There is no finished run to export yet.');
  const file: RunFile = { format: RUN_FILE_FORMAT, format_version: RUN_FILE_VERSION, exported_at: now.toISOString(), runs: views.map(fileRun) };
  // NaN and Infinity (a diverged loss) become null in JSON; parseRunFile turns null back into NaN.
  return `${JSON.stringify(file, null, 1)}\n`;
}

/** A file name for these runs: "lora-r8.rankscope.json", or "rankscope-3-runs-2026-12-02.rankscope.json". */
export function runFileName(views: RunView[], now = new Date()): string {
  const stem = views.length === 1 ? views[0].spec.name.replace(/[^A-Za-z0-9._-]+/g, '-').toLowerCase() : `rankscope-${views.length}-runs-${now.toISOString().slice(0, 10)}`;
  return `${stem.replace(/^-+|-+$/g, '') || 'run'}${RUN_FILE_EXTENSION}`;
}

export class RunFileError extends Error {
  override name = 'RunFileError';
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads numbers back (null was NaN or ±Infinity in the page). */
function num(v: unknown, where: string): number {
  if (v === null) return Number.NaN;
  if (typeof v !== 'number') throw new RunFileError(`${where} should be a number, not ${JSON.stringify(v)}`);
  return v;
}

function numbers(v: unknown, where: string): number[] {
  if (!Array.isArray(v)) throw new RunFileError(`${where} should be a list of numbers`);
  return v.map((x, i) => num(x, `${where}[${i}]`));
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new RunFileError(`${where} should be text, not ${JSON.stringify(v)}`);
  return v;
}

function records<T>(v: unknown, where: string, keys: readonly string[], extra: Obj): T[] {
  if (!Array.isArray(v)) throw new RunFileError(`${where} should be a list`);
  return v.map((r, i) => {
    if (!isObj(r)) throw new RunFileError(`${where}[${i}] should be an object`);
    const out: Obj = { ...extra };
    for (const k of keys) out[k] = num(r[k], `${where}[${i}].${k}`);
    return out as T;
  });
}

const TRAIN_KEYS = ['step', 'loss', 'accuracy', 'lr', 'grad_norm', 'images_per_second', 'seconds'] as const;
const EVAL_KEYS = ['step', 'val_loss', 'val_accuracy', 'seconds'] as const;
const SUMMARY_KEYS = ['trainable_params', 'steps', 'final_val_accuracy', 'best_val_accuracy', 'final_val_loss', 'seconds', 'seconds_per_step', 'peak_gpu_bytes'] as const;

function readRun(r: unknown, i: number, file: string, at: number): RunView {
  const where = `runs[${i}]`;
  if (!isObj(r)) throw new RunFileError(`${where} should be an object`);
  const spec = r.spec;
  if (!isObj(spec)) throw new RunFileError(`${where}.spec is missing`);
  const method = str(spec.method, `${where}.spec.method`);
  if (!(method in METHODS)) {
    throw new RunFileError(`${where}.spec.method is "${method}", which this version of Rankscope does not know (it knows ${Object.keys(METHODS).join(', ')}); open the file with the version that wrote it`);
  }
  if (!Array.isArray(spec.targets) || !isObj(spec.train)) throw new RunFileError(`${where}.spec needs "targets" (a list) and "train" (an object)`);
  const id = str(r.id ?? spec.id, `${where}.id`);
  const name = str(r.name ?? spec.name, `${where}.name`);
  const metrics = isObj(r.metrics) ? r.metrics : {};
  const train = records<RunView['train'][number]>(metrics.train ?? [], `${where}.metrics.train`, TRAIN_KEYS, { kind: 'train' });
  const evals = records<RunView['evals'][number]>(metrics.eval ?? [], `${where}.metrics.eval`, EVAL_KEYS, { kind: 'eval' });
  if (!Array.isArray(r.spectra)) throw new RunFileError(`${where}.spectra should be a list`);
  const spectra = r.spectra.map((s, j) => {
    const w = `${where}.spectra[${j}]`;
    if (!isObj(s) || !isObj(s.spectrum)) throw new RunFileError(`${w} should hold a step and a spectrum`);
    const sp = s.spectrum;
    return {
      step: num(s.step, `${w}.step`),
      spectrum: {
        module: str(sp.module, `${w}.spectrum.module`),
        rows: num(sp.rows, `${w}.spectrum.rows`),
        cols: num(sp.cols, `${w}.spectrum.cols`),
        singularValues: numbers(sp.singularValues, `${w}.spectrum.singularValues`),
        numericalRank: num(sp.numericalRank, `${w}.spectrum.numericalRank`),
        effectiveRank: num(sp.effectiveRank, `${w}.spectrum.effectiveRank`),
        stableRank: num(sp.stableRank, `${w}.spectrum.stableRank`),
      },
    };
  });
  let result: RunView['result'];
  if (r.result !== undefined) {
    const res = r.result;
    if (!isObj(res)) throw new RunFileError(`${where}.result should be an object`);
    const summary: Obj = { method, status: res.status === 'diverged' ? 'diverged' : 'done', head: typeof res.head === 'string' && isHeadKind(res.head) ? res.head : 'linear' };
    for (const k of SUMMARY_KEYS) summary[k] = num(res[k], `${where}.result.${k}`);
    if (!Array.isArray(res.confusion)) throw new RunFileError(`${where}.result.confusion should be a matrix (a list of rows)`);
    const classNames = Array.isArray(res.classNames) ? res.classNames.map((c, j) => str(c, `${where}.result.classNames[${j}]`)) : [];
    const confusion = res.confusion.map((row, j) => numbers(row, `${where}.result.confusion[${j}]`));
    if (confusion.length !== classNames.length || confusion.some((row) => row.length !== classNames.length)) {
      throw new RunFileError(`${where}.result.confusion should be ${classNames.length}×${classNames.length}, one row and column per class name`);
    }
    result = { ...(summary as unknown as NonNullable<RunView['result']>), classNames, confusion, perClassAccuracy: numbers(res.perClassAccuracy, `${where}.result.perClassAccuracy`) };
  }
  if (!train.length && !result) throw new RunFileError(`${where} ("${name}") has neither metrics nor a result to show`);
  const fp = (v: unknown): Fingerprint | undefined => (isObj(v) && typeof v.sha256 === 'string' ? { sha256: v.sha256, files: num(v.files ?? 0, 'files'), bytes: num(v.bytes ?? 0, 'bytes') } : undefined);
  const model = isObj(r.model) ? r.model : undefined;
  const dataset = isObj(r.dataset) ? r.dataset : undefined;
  const created = typeof r.created_at === 'string' ? Date.parse(r.created_at) : Number.NaN;
  return {
    spec: { ...(spec as unknown as RunSpec), id, name, method: method as MethodId },
    state: r.state === 'stopped' || r.state === 'diverged' ? r.state : 'done',
    ...(r.state === 'diverged' && typeof r.error === 'string' ? { error: r.error } : {}),
    trainableParams: typeof r.trainable_params === 'number' ? r.trainable_params : undefined,
    rankLayer: typeof r.rank_layer === 'string' ? r.rank_layer : undefined,
    train,
    evals,
    spectra,
    result,
    color: typeof r.color === 'string' && /^#[0-9a-fA-F]{3,8}$/.test(r.color) ? r.color : '#6b7a8f',
    createdAt: Number.isFinite(created) ? created : at,
    model: model && typeof model.name === 'string' ? model.name : undefined,
    dataset: dataset && typeof dataset.name === 'string' ? dataset.name : undefined,
    modelFingerprint: fp(model?.fingerprint),
    datasetFingerprint: fp(dataset?.fingerprint),
    environment: isObj(r.environment) ? (r.environment as unknown as RunEnvironment) : undefined,
    imported: { file, at },
  };
}

/**
 * The runs in a run file, marked as imported from `fileName`. Throws RunFileError with a message
 * that names the file, the field and what to do.
 */
export function parseRunFile(text: string, fileName: string, at = Date.now()): RunView[] {
  const fail = (why: string): never => {
    throw new RunFileError(`${fileName} is not a Rankscope run file: ${why}. Export runs with "Export all runs" (or a run's "Run file" button) and import that ${RUN_FILE_EXTENSION} file.`);
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return fail(`it is not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(data) || data.format !== RUN_FILE_FORMAT) return fail(`its "format" should be "${RUN_FILE_FORMAT}"`);
  if (typeof data.format_version !== 'number' || data.format_version > RUN_FILE_VERSION) {
    throw new RunFileError(`${fileName} is a run file of format version ${String(data.format_version)}, newer than this Rankscope reads (${RUN_FILE_VERSION}); update Rankscope to open it.`);
  }
  if (!Array.isArray(data.runs) || data.runs.length === 0) return fail('it holds no runs');
  try {
    return data.runs.map((r, i) => readRun(r, i, fileName, at));
  } catch (e) {
    if (e instanceof RunFileError) throw new RunFileError(`${fileName}: ${e.message}. The file may be damaged or edited; export it again.`);
    throw e;
  }
}
