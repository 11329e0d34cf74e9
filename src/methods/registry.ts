import { full } from './full';
import { lora } from './lora';
import { nola } from './nola';
import { probe } from './probe';
import { randlora } from './randlora';
import type { Method, MethodId } from './types';
import { vera } from './vera';

/** Every method, in the order the UI lists them. Adding a method: one module and one line here. */
// The registry erases each method's config type; callers pass configs from `defaults` or the UI.
export const METHODS: Record<MethodId, Method<object>> = {
  lora: lora as unknown as Method<object>,
  randlora: randlora as unknown as Method<object>,
  nola: nola as unknown as Method<object>,
  vera: vera as unknown as Method<object>,
  full: full as unknown as Method<object>,
  probe: probe as unknown as Method<object>,
};

export function methodById(id: string): Method<object> {
  const m = (METHODS as Record<string, Method<object> | undefined>)[id];
  if (!m) throw new Error(`Unknown method "${id}". Choose one of: ${Object.keys(METHODS).join(', ')}.`);
  return m;
}

export type { Method, MethodId, AdapterSet, LayerAdapter, TargetLayer, Trainable } from './types';
