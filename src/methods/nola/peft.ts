/**
 * NOLA in Rankscope's own format (docs/nola-format.md): nola_config.json records everything that
 * rebuilds the frozen bases (seed, stream ids, generator, distribution, shapes) plus check values,
 * and nola_coefficients.safetensors holds the trained α, β per layer and the head.
 */
import { nola } from '../../adapters/nola';
import { NOLA_DEFAULTS, nolaBasisDistributions, type NolaConfig } from '../../engine/ops/nola';
import { randomValue } from '../../engine/random';
import { STREAMS } from '../../engine/streams';
import { HEAD_MODULE } from '../../models/names';
import { peftTargetModules, resolvedMethodConfig } from './config';
import { classificationArchitecture, classificationName, type ExportableRun, type ExportInfo } from './layout';
import { pythonJson } from './pyjson';

export const NOLA_FORMAT = 'rankscope-nola';
export const NOLA_FORMAT_VERSION = 1;
/** Names the counter-based generator of src/engine/random.ts; bump the version if it ever changes. */
export const NOLA_GENERATOR = 'rankscope-lowbias32-v1';
/** How many leading values of each basis stack are recorded to verify a rebuild. */
export const NOLA_CHECK_VALUES = 8;

const FLOAT_FIELDS = ['c', 'bound_a', 'bound_b', 'check_a', 'check_b'];

export interface NolaLayerRecord {
  in_features: number;
  out_features: number;
  bound_a: number;
  bound_b: number;
  check_a: number[];
  check_b: number[];
}

export function nolaRunConfig(run: Pick<ExportableRun, 'config'>): NolaConfig {
  const c = resolvedMethodConfig(run, nola.defaults) as unknown as NolaConfig;
  return { rank: c.rank, ka: c.ka, kb: c.kb, c: c.c, init: c.init };
}

/** The first values of a stack: read back from the GPU when the engine stored it, else computed as the GPU does (f32). */
async function checkValues(run: ExportableRun, which: 'A' | 'B', O: number, I: number, seed: number, lo: number, hi: number): Promise<number[]> {
  const stored = run.adapters.shared.get(`nola_${which}_bases.${O}x${I}`);
  if (stored) {
    const n = Math.min(NOLA_CHECK_VALUES, stored.size);
    return Array.from(await stored.ctx.readF32(stored.buffer, n));
  }
  const stream = which === 'A' ? STREAMS.nolaA : STREAMS.nolaB;
  return Array.from({ length: NOLA_CHECK_VALUES }, (_, i) => Math.fround(randomValue(seed, stream, i, { kind: 'uniform', lo, hi })));
}

export async function nolaConfigObject(run: ExportableRun, info: ExportInfo): Promise<Record<string, unknown>> {
  const cfg = nolaRunConfig(run);
  const seed = run.config.seed >>> 0;
  const layers: Record<string, NolaLayerRecord> = {};
  for (const [module, layer] of run.adapters.layers) {
    const { out: O, in: I } = layer.shape;
    const d = nolaBasisDistributions(I, O, cfg.rank);
    layers[classificationName(run.model.spec, module)] = {
      in_features: I,
      out_features: O,
      bound_a: d.a.hi,
      bound_b: d.b.hi,
      check_a: await checkValues(run, 'A', O, I, seed, d.a.lo, d.a.hi),
      check_b: await checkValues(run, 'B', O, I, seed, d.b.lo, d.b.hi),
    };
  }
  const arch = classificationArchitecture(run.model.spec);
  return {
    format: NOLA_FORMAT,
    format_version: NOLA_FORMAT_VERSION,
    method: 'NOLA',
    base_model_name_or_path: info.baseModel,
    auto_mapping: { base_model_class: arch.name, parent_library: arch.library },
    target_modules: peftTargetModules(run, 'transformers4'),
    modules_to_save: [HEAD_MODULE],
    rank: cfg.rank,
    ka: cfg.ka,
    kb: cfg.kb,
    c: cfg.c,
    init: cfg.init,
    seed,
    generator: NOLA_GENERATOR,
    stream_a: STREAMS.nolaA,
    stream_b: STREAMS.nolaB,
    distribution: 'uniform',
    layers,
  };
}

export function nolaConfigJson(config: Record<string, unknown>): string {
  return `${pythonJson(config, FLOAT_FIELDS)}\n`;
}

/** nola_config.json back into the method's settings, checking it is a format this build reads. */
export function nolaSettings(config: Record<string, unknown>, file: string): { settings: NolaConfig; seed: number; targets: string[]; layers: Record<string, NolaLayerRecord> } {
  const fail = (what: string): never => {
    throw new Error(`${file}: ${what}`);
  };
  if (config.format !== NOLA_FORMAT) fail(`"format" is ${JSON.stringify(config.format)}, not "${NOLA_FORMAT}"; this is not a Rankscope NOLA export.`);
  if (config.format_version !== NOLA_FORMAT_VERSION) {
    fail(`format_version ${JSON.stringify(config.format_version)} is not ${NOLA_FORMAT_VERSION}, the version this Rankscope reads; update Rankscope or export again.`);
  }
  const int = (k: string) => {
    const v = config[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`"${k}" is ${JSON.stringify(v)}, not a whole number.`);
    return v as number;
  };
  const c = config.c;
  if (typeof c !== 'number' || !Number.isFinite(c)) fail(`"c" is ${JSON.stringify(c)}, not a number.`);
  const init = config.init === 'zero-beta' || config.init === 'nola' ? config.init : NOLA_DEFAULTS.init;
  const targets = config.target_modules;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) fail('"target_modules" is not a list of module names.');
  const layers = config.layers;
  if (!layers || typeof layers !== 'object' || Array.isArray(layers)) fail('"layers" is not an object of layer records.');
  return {
    settings: { rank: int('rank'), ka: int('ka'), kb: int('kb'), c: c as number, init },
    seed: int('seed'),
    targets: targets as string[],
    layers: layers as Record<string, NolaLayerRecord>,
  };
}
