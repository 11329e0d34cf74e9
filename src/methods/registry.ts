/**
 * Every method, in the order the UI lists them. Adding a method is one folder under src/methods/
 * and one line here. Only config.ts files are imported, so the page's main bundle holds no
 * kernels; the GPU half of a method loads on demand (`loadMethod`).
 */
import { dora } from './dora/config';
import { full } from './full/config';
import { lora } from './lora/config';
import { nola } from './nola/config';
import { probe } from './probe/config';
import { randlora } from './randlora/config';
import type { MethodConfig, MethodRuntime } from './types';
import { vera } from './vera/config';

const LIST = [lora, randlora, nola, vera, dora, full, probe] as const;

export type MethodId = (typeof LIST)[number]['id'];

// The registry erases each method's config type; configs come from `defaults`, the UI or a file.
export const METHODS = Object.fromEntries(LIST.map((m) => [m.id, m])) as unknown as Record<MethodId, MethodConfig<object, MethodId>>;

export const METHOD_IDS = LIST.map((m) => m.id) as MethodId[];

/** The method a fresh page starts with. */
export const DEFAULT_METHOD: MethodId = METHOD_IDS[0];

/** The methods of the one-click comparison. */
export const COMPARISON_METHODS: readonly MethodId[] = LIST.filter((m) => m.comparisonLr !== undefined).map((m) => m.id);

export function isMethodId(id: string): id is MethodId {
  return Object.hasOwn(METHODS, id);
}

export function methodById(id: string): MethodConfig<object, MethodId> {
  if (!isMethodId(id)) throw new Error(`Unknown method "${id}". Choose one of: ${METHOD_IDS.join(', ')}.`);
  return METHODS[id];
}

/** The method's settings as a run uses them: its defaults, then what was set. */
export function resolvedConfig(id: string, set: Record<string, unknown> | undefined): Record<string, unknown> {
  return { ...(methodById(id).defaults as Record<string, unknown>), ...(set ?? {}) };
}

const loaded = new Map<string, MethodRuntime<object>>();

/** Loads a method's GPU half (kernels, layers, export format); call before `methodRuntime`. */
export async function loadMethod(id: string): Promise<MethodRuntime<object>> {
  let r = loaded.get(id);
  if (!r) {
    r = (await methodById(id).runtime()).default as MethodRuntime<object>;
    loaded.set(id, r);
  }
  return r;
}

/** The GPU half of a method already loaded with `loadMethod`. */
export function methodRuntime(id: string): MethodRuntime<object> {
  const r = loaded.get(id);
  if (!r) throw new Error(`The ${methodById(id).label} runtime is not loaded yet: await loadMethod("${id}") before building its adapters.`);
  return r;
}

export type { MethodConfig, MethodRuntime, AdapterSet, LayerAdapter, TargetLayer, Trainable, FieldSpec, Saved, BudgetKnob } from './types';
