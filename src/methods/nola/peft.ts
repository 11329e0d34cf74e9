/**
 * NOLA in Rankscope's own format (docs/nola-format.md): nola_config.json records everything that
 * rebuilds the frozen bases (seed, stream ids, generator, distribution, shapes) plus check values,
 * and nola_coefficients.safetensors holds the trained α, β per layer and the head.
 */
import type { OwnFormat } from '../types';
import { NOLA_DEFAULTS, type NolaConfig } from './config';
import { nolaBasisDistributions } from './layer';
import { randomValue } from '../../engine/random';
import { STREAMS } from '../../engine/streams';
import type { AdapterSet } from '../types';

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

/** The first values of a stack: read back from the GPU when the engine stored it, else computed as the GPU does (f32). */
async function checkValues(set: AdapterSet, which: 'A' | 'B', O: number, I: number, seed: number, lo: number, hi: number): Promise<number[]> {
  const stored = set.shared.get(`nola_${which}_bases.${O}x${I}`);
  if (stored) {
    const n = Math.min(NOLA_CHECK_VALUES, stored.size);
    return Array.from(await stored.ctx.readF32(stored.buffer, n));
  }
  const stream = which === 'A' ? STREAMS.nolaA : STREAMS.nolaB;
  return Array.from({ length: NOLA_CHECK_VALUES }, (_, i) => Math.fround(randomValue(seed, stream, i, { kind: 'uniform', lo, hi })));
}

/** nola_config.json's layer records and settings; `common` holds base model, auto_mapping, targets and modules_to_save. */
export async function nolaConfigObject(
  set: AdapterSet,
  cfg: NolaConfig,
  runSeed: number,
  moduleName: (module: string) => string,
  common: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const seed = runSeed >>> 0;
  const layers: Record<string, NolaLayerRecord> = {};
  for (const [module, layer] of set.layers) {
    const { out: O, in: I } = layer.shape;
    const d = nolaBasisDistributions(I, O, cfg.rank);
    layers[moduleName(module)] = {
      in_features: I,
      out_features: O,
      bound_a: d.a.hi,
      bound_b: d.b.hi,
      check_a: await checkValues(set, 'A', O, I, seed, d.a.lo, d.a.hi),
      check_b: await checkValues(set, 'B', O, I, seed, d.b.lo, d.b.hi),
    };
  }
  return {
    format: NOLA_FORMAT,
    format_version: NOLA_FORMAT_VERSION,
    method: 'NOLA',
    ...common,
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

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]), Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** An import refusal with the reason io/peft reports it under (AdapterImportError's `reason`). */
function refusal(reason: 'generator' | 'shape', message: string): Error {
  return Object.assign(new Error(message), { reason });
}

export const nolaFormat: OwnFormat<NolaConfig> = {
  floatFields: FLOAT_FIELDS,
  configObject: (set, config, seed, moduleName, common) => nolaConfigObject(set, config, seed, moduleName, common),
  read(config, file) {
    const parsed = nolaSettings(config, file);
    return { config: parsed.settings, seed: parsed.seed, targets: parsed.targets };
  },
  async verify(set, config, seed, c, moduleName, source) {
    if (c.generator !== NOLA_GENERATOR || c.stream_a !== STREAMS.nolaA || c.stream_b !== STREAMS.nolaB || c.distribution !== 'uniform') {
      throw refusal(
        'generator',
        `${source} rebuilds its bases with generator ${JSON.stringify(c.generator)}, streams ${JSON.stringify(c.stream_a)}/${JSON.stringify(c.stream_b)} and a ${JSON.stringify(c.distribution)} distribution; this Rankscope uses ${NOLA_GENERATOR}, streams ${STREAMS.nolaA}/${STREAMS.nolaB}, uniform. It cannot rebuild the same bases.`,
      );
    }
    if ((seed >>> 0) !== c.seed) {
      throw Object.assign(
        new Error(`${source} was trained with NOLA bases from seed ${String(c.seed)}, but this run's bases come from seed ${seed}. Set the run's seed to ${String(c.seed)}.`),
        { reason: 'config' },
      );
    }
    const theirs = c.layers as Record<string, NolaLayerRecord>;
    const ours = (await nolaConfigObject(set, config, seed, moduleName, {})).layers as Record<string, NolaLayerRecord>;
    for (const [module, mine] of Object.entries(ours)) {
      const rec = theirs[module];
      if (!rec) continue; // reported by the tensor check as a missing layer
      if (rec.in_features !== mine.in_features || rec.out_features !== mine.out_features) {
        throw refusal(
          'shape',
          `${source}: layer ${module} was ${rec.out_features}x${rec.in_features} (out x in) when the adapter was trained, but it is ${mine.out_features}x${mine.in_features} in this model. The adapter belongs to another base model.`,
        );
      }
      for (const which of ['check_a', 'check_b'] as const) {
        const a = Float32Array.from(rec[which] ?? []);
        const b = Float32Array.from(mine[which]);
        if (a.length !== b.length || maxRelDiff(a, b) > 1e-5) {
          throw refusal(
            'generator',
            `${source}: the recorded ${which} values of layer ${module} (${Array.from(a.slice(0, 3)).join(', ')} …) differ from the bases this Rankscope builds from the same seed (${Array.from(b.slice(0, 3)).join(', ')} …), so ΔW would not be the one trained.`,
          );
        }
      }
    }
  },
  readme: ({ arch, labels }) =>
    "NOLA is not part of PEFT. This folder uses Rankscope's documented format (docs/nola-format.md):\n" +
    '`nola_config.json` records the seed and generator that rebuild the frozen bases, `nola_coefficients.safetensors`\n' +
    "holds the trained coefficients and the classification head. `scripts/nola_delta.py` (NumPy only)\n" +
    "rebuilds each layer's ΔW; the merged export next to this folder needs nothing at all:\n\n" +
    '```python\n' +
    `from transformers import ${arch}\n` +
    `model = ${arch}.from_pretrained("path/to/merged")\n` +
    '```\n\n' +
    `Classes (label ids in order): ${labels.map((l) => JSON.stringify(l)).join(', ')}.\n`,
};
