/**
 * adapter_config.json as PEFT writes it, and back.
 *
 * PEFT saves `asdict(config)` with `json.dumps(indent=2, sort_keys=True)` (no trailing newline),
 * after PeftModel.save_pretrained sets inference_mode = True and, for task_type None, an
 * auto_mapping naming the base model's class. The fields are those PEFT 0.21.0 writes for
 * LoraConfig, VeraConfig and RandLoraConfig (compared field by field with its own output in
 * src/io/peft/interop.test.ts). Newer PEFT releases fill in fields a file lacks; older ones drop
 * unknown fields with a warning, so the file loads across versions.
 */
import type { MethodId } from '../../adapters/types';
import { HEAD_MODULE, linearSites, matchesTarget } from '../../models/names';
import { classificationArchitecture, DEFAULT_PEFT_NAMING, peftModuleName, type ExportableRun, type ExportInfo, type PeftNaming } from './layout';
import { pythonJson } from './pyjson';

export type PeftMethod = 'lora' | 'vera' | 'randlora';

export const PEFT_TYPES: Record<PeftMethod, string> = { lora: 'LORA', vera: 'VERA', randlora: 'RANDLORA' };

/** The PEFT release whose adapter_config.json fields these files carry. */
export const PEFT_FORMAT_VERSION = '0.21.0';

/** Fields PEFT keeps as Python floats (JSON.parse cannot tell 0.0 from 0). */
const FLOAT_FIELDS = ['lora_dropout', 'vera_dropout', 'randlora_dropout', 'd_initial'];

export function isPeftMethod(m: string): m is PeftMethod {
  return m === 'lora' || m === 'vera' || m === 'randlora';
}

/** The method's settings as the run used them: its defaults, then what the run set. */
export function resolvedMethodConfig(run: Pick<ExportableRun, 'config'>, defaults: object): Record<string, unknown> {
  return { ...(defaults as Record<string, unknown>), ...(run.config.methodConfig ?? {}) };
}

function num(c: Record<string, unknown>, key: string): number {
  const v = c[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`method setting "${key}" is ${JSON.stringify(v)}, not a number`);
  return v;
}

/**
 * PEFT's target_modules for the layers the run adapted, under the chosen naming. PEFT matches a
 * list by name or dotted suffix, and sizes VeRA's and RandLoRA's shared bases over what matched
 * (_find_dim), so the list must match exactly the adapted layers among the model's linear layers.
 * Tried in turn: the run's own targets (transformers 4 names only, as the run wrote them), the
 * adapted layers' last name parts (q_proj, fc1 …), and the full module paths, which always fit.
 */
export function peftTargetModules(run: ExportableRun, naming: PeftNaming): string[] {
  const spec = run.model.spec;
  const all = linearSites(spec).map((s) => peftModuleName(spec, s.module, naming));
  const adapted = new Set([...run.adapters.layers.keys()].map((m) => peftModuleName(spec, m, naming)));
  const exact = (targets: string[]) =>
    targets.length > 0 &&
    targets.every((t) => [...adapted].some((m) => matchesTarget(m, [t]))) &&
    all.every((m) => matchesTarget(m, targets) === adapted.has(m));
  const leaves = [...new Set([...adapted].map((m) => m.slice(m.lastIndexOf('.') + 1)))];
  const candidates = naming === 'transformers4' ? [[...new Set(run.config.targets)], leaves] : [leaves];
  for (const c of candidates) if (exact(c)) return c.sort();
  return [...adapted].sort();
}

function common(run: ExportableRun, info: ExportInfo, method: PeftMethod): Record<string, unknown> {
  const arch = classificationArchitecture(run.model.spec);
  return {
    peft_version: PEFT_FORMAT_VERSION,
    auto_mapping: { base_model_class: arch.name, parent_library: arch.library },
    base_model_name_or_path: info.baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    layers_pattern: null,
    layers_to_transform: null,
    modules_to_save: [HEAD_MODULE],
    peft_type: PEFT_TYPES[method],
    revision: null,
    target_modules: peftTargetModules(run, info.peftNaming ?? DEFAULT_PEFT_NAMING),
    task_type: null,
  };
}

/** adapter_config.json as an object, for a run of LoRA, VeRA or RandLoRA. */
export function peftConfigObject(run: ExportableRun, info: ExportInfo, methodConfig: Record<string, unknown>): Record<string, unknown> {
  const method = run.config.method;
  if (!isPeftMethod(method)) throw new Error(`PEFT has no ${method} adapter`);
  const c = common(run, info, method);
  if (method === 'lora') {
    return {
      ...c,
      alora_invocation_tokens: null,
      alpha_pattern: {},
      arrow_config: null,
      corda_config: null,
      ensure_weight_tying: false,
      eva_config: null,
      exclude_modules: null,
      init_lora_weights: true,
      kasa_config: null,
      layer_replication: null,
      loftq_config: {},
      lora_alpha: num(methodConfig, 'alpha'),
      lora_bias: false,
      lora_dropout: 0,
      lora_ga_config: null,
      megatron_config: null,
      megatron_core: 'megatron.core',
      monteclora_config: null,
      qalora_group_size: 16,
      r: num(methodConfig, 'r'),
      rank_pattern: {},
      target_parameters: null,
      trainable_token_indices: null,
      use_bdlora: null,
      use_dora: false,
      use_qalora: false,
      use_rslora: methodConfig.rslora === true,
      velora_config: null,
    };
  }
  const shared = {
    init_weights: true,
    // The counter-based seed our bases came from; PEFT would feed it to torch's generator, but
    // with save_projection the bases themselves are in the file and nothing is regenerated.
    projection_prng_key: run.config.seed >>> 0,
    r: num(methodConfig, 'r'),
    save_projection: true,
  };
  if (method === 'vera') return { ...c, ...shared, d_initial: num(methodConfig, 'dInitial'), vera_dropout: 0 };
  return { ...c, ...shared, randlora_alpha: num(methodConfig, 'alpha'), randlora_dropout: 0, sparse: false, very_sparse: false };
}

export function peftConfigJson(config: Record<string, unknown>): string {
  return pythonJson(config, FLOAT_FIELDS);
}

export class AdapterImportError extends Error {
  override name = 'AdapterImportError';
  constructor(
    /** What did not fit: lets a page phrase its own message or highlight a field. */
    readonly reason: 'format' | 'unsupported' | 'method' | 'base-model' | 'config' | 'targets' | 'shape' | 'labels' | 'generator',
    message: string,
  ) {
    super(message);
  }
}

/** What a run needs to be set up so that an adapter fits it: method, its settings, targets, seed. */
export interface AdapterRunConfig {
  method: MethodId;
  methodConfig: Record<string, unknown>;
  targets: string[];
  seed: number;
}

const METHOD_OF_PEFT_TYPE: Record<string, PeftMethod> = { LORA: 'lora', VERA: 'vera', RANDLORA: 'randlora' };

/**
 * Reads an adapter_config.json object into our terms, refusing PEFT options the engine does not
 * implement (DoRA, trained biases, per-layer ranks, regex targets …) with a message naming them.
 */
export function runConfigFromPeft(config: Record<string, unknown>, file: string): AdapterRunConfig {
  const type = String(config.peft_type ?? '');
  const method = METHOD_OF_PEFT_TYPE[type];
  if (!method) {
    throw new AdapterImportError(
      'unsupported',
      `${file}: peft_type ${JSON.stringify(config.peft_type)} is not one Rankscope trains; it imports LORA, VERA and RANDLORA adapters (and its own NOLA format).`,
    );
  }
  const refuse = (what: string) => {
    throw new AdapterImportError('unsupported', `${file}: ${what}, which Rankscope's ${type} does not implement. Train the adapter without it to import it here.`);
  };
  const isSet = (k: string) => {
    const v = config[k];
    return !(v === undefined || v === null || v === false || (typeof v === 'object' && Object.keys(v as object).length === 0));
  };
  if (config.bias !== undefined && config.bias !== 'none') refuse(`bias is ${JSON.stringify(config.bias)} (trained biases)`);
  if (config.fan_in_fan_out === true) refuse('fan_in_fan_out is true (Conv1D weights)');
  for (const k of [
    'layers_to_transform',
    'rank_pattern',
    'alpha_pattern',
    'use_dora',
    'lora_bias',
    'layer_replication',
    'trainable_token_indices',
    'exclude_modules',
    'target_parameters',
    'alora_invocation_tokens',
    'use_qalora',
    'use_bdlora',
    'arrow_config',
  ]) {
    if (isSet(k)) refuse(`${k} is set`);
  }
  const targets = config.target_modules;
  if (!Array.isArray(targets) || !targets.length || !targets.every((t) => typeof t === 'string')) {
    refuse(`target_modules is ${JSON.stringify(targets)} (only a list of module names is supported, not a regular expression or "all-linear")`);
  }
  const mts = config.modules_to_save;
  if (mts !== undefined && mts !== null && !(Array.isArray(mts) && mts.every((m) => m === HEAD_MODULE || m === 'classifier'))) {
    refuse(`modules_to_save is ${JSON.stringify(mts)} (only the classification head, "classifier", can be saved alongside)`);
  }
  const number = (k: string, fallback?: number) => {
    const v = config[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new AdapterImportError('format', `${file}: "${k}" is ${JSON.stringify(config[k])}, not a number.`);
    return v;
  };
  const seed = method === 'lora' ? 0 : number('projection_prng_key', 0);
  let methodConfig: Record<string, unknown>;
  if (method === 'lora') methodConfig = { r: number('r', 8), alpha: number('lora_alpha', 8), rslora: config.use_rslora === true };
  else if (method === 'vera') methodConfig = { r: number('r', 256), dInitial: number('d_initial', 0.1) };
  else methodConfig = { r: number('r', 32), alpha: number('randlora_alpha', 640) };
  return { method, methodConfig, targets: targets as string[], seed };
}
