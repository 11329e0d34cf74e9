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
import { loadMethod, methodById, methodRuntime, METHODS, type MethodId } from '../../methods/registry';
import type { PeftSpec } from '../../methods/types';
import { HEAD_MODULE, linearSites, matchesTarget } from '../../models/names';
import { adapterArchitecture, classificationArchitecture, DEFAULT_PEFT_NAMING, peftModuleName, type ExportableRun, type ExportInfo, type PeftNaming } from './layout';
import { pythonJson } from './pyjson';

/** The PEFT release whose adapter_config.json fields these files carry. */
export const PEFT_FORMAT_VERSION = '0.21.0';

/** Whether the method exports PEFT's format (its config.ts says so; no runtime needed). */
export function isPeftMethod(method: string): boolean {
  return methodById(method).export.kind === 'peft';
}

/** The method's PEFT format (its runtime must be loaded), or undefined when it exports none or its own. */
export function peftSpecOf(method: string): PeftSpec<object> | undefined {
  return methodById(method).export.kind === 'peft' ? methodRuntime(method).peft : undefined;
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

/** adapter_config.json as an object, for a run of a method with a PEFT format (its runtime loaded). */
export function peftConfigObject(run: ExportableRun, info: ExportInfo, methodConfig: Record<string, unknown>): Record<string, unknown> {
  const method = methodById(run.config.method);
  const spec = peftSpecOf(method.id);
  if (method.export.kind !== 'peft' || !spec) throw new Error(`PEFT has no ${method.label} adapter`);
  const arch = adapterArchitecture(run.model);
  return {
    peft_version: PEFT_FORMAT_VERSION,
    auto_mapping: { base_model_class: arch.name, parent_library: arch.library },
    base_model_name_or_path: info.baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    layers_pattern: null,
    layers_to_transform: null,
    modules_to_save: run.model.zeroShot ? null : [HEAD_MODULE],
    peft_type: method.export.peftType,
    revision: null,
    target_modules: peftTargetModules(run, info.peftNaming ?? DEFAULT_PEFT_NAMING),
    task_type: null,
    ...spec.fields(methodConfig, run.config.seed),
  };
}

export function peftConfigJson(config: Record<string, unknown>, floatFields: readonly string[]): string {
  return pythonJson(config, [...floatFields]);
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

/**
 * The method a PEFT file belongs to: among the methods of its peft_type, the one whose `match`
 * fields (e.g. DoRA's use_dora: true) the file has, preferring the most specific.
 */
export function methodOfPeftFile(config: Record<string, unknown>): MethodId | undefined {
  let best: { id: MethodId; score: number } | undefined;
  for (const m of Object.values(METHODS)) {
    const e = m.export;
    if (e.kind !== 'peft' || e.peftType !== config.peft_type) continue;
    const match = Object.entries(e.match ?? {});
    if (!match.every(([k, v]) => config[k] === v)) continue;
    if (!best || match.length > best.score) best = { id: m.id as MethodId, score: match.length };
  }
  return best?.id;
}

/** The peft_types some method reads, for messages. */
function peftTypes(): string[] {
  return [...new Set(Object.values(METHODS).flatMap((m) => (m.export.kind === 'peft' ? [m.export.peftType] : [])))];
}

/**
 * Reads an adapter_config.json object into our terms, refusing PEFT options the engine does not
 * implement (DoRA, trained biases, per-layer ranks, regex targets …) with a message naming them.
 */
export async function runConfigFromPeft(config: Record<string, unknown>, file: string): Promise<AdapterRunConfig> {
  const type = String(config.peft_type ?? '');
  const method = methodOfPeftFile(config);
  if (!method) {
    throw new AdapterImportError(
      'unsupported',
      `${file}: peft_type ${JSON.stringify(config.peft_type)} is not one Rankscope trains; it imports ${peftTypes().join(', ')} adapters (and formats of its own).`,
    );
  }
  const spec = (await loadMethod(method)).peft;
  if (!spec) throw new AdapterImportError('unsupported', `${file}: Rankscope's ${methodById(method).label} has no PEFT format.`);
  const implemented = new Set(spec.implements ?? []);
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
    if (!implemented.has(k) && isSet(k)) refuse(`${k} is set`);
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
  const seed = spec.seeded ? number('projection_prng_key', 0) : 0;
  const methodConfig = spec.fromFields(config, number) as Record<string, unknown>;
  return { method, methodConfig, targets: targets as string[], seed };
}
