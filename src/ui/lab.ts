import { useQuery } from '@tanstack/react-query';
import { Comlink, startLab } from '../session/client';
import type { LabApi } from '../session/protocol';
import type { RunEvent } from '../session/run';
import type { AdapterSummary } from '../gpu/device';

let lab: Comlink.Remote<LabApi> | undefined;
const listeners = new Set<(e: RunEvent) => void>();

/**
 * The page's one lab worker, started on first use. Run events fan out to every listener the
 * page registers (the run store); callbacks cross into the worker wrapped in Comlink.proxy.
 */
export function getLab(): Comlink.Remote<LabApi> {
  if (!lab) {
    lab = startLab();
    void lab.subscribe(Comlink.proxy((e: RunEvent) => listeners.forEach((l) => l(e))));
  }
  return lab;
}

export function onRunEvent(listener: (e: RunEvent) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Wraps a progress callback so it can be passed to the worker. */
export function proxied<T extends (...args: never[]) => unknown>(fn: T): T {
  return Comlink.proxy(fn) as unknown as T;
}

export const LAB_QUERY_KEY = ['lab-device'] as const;

/** A page switch that is on unless ?NAME=0 is in the URL or localStorage "rankscope.NAME" is "0". */
function switchedOn(name: string, search: string): boolean {
  const param = new URLSearchParams(search).get(name);
  if (param !== null) return param !== '0';
  try {
    return typeof localStorage === 'undefined' || localStorage.getItem(`rankscope.${name}`) !== '0';
  } catch {
    return true;
  }
}

/**
 * GEMM autotuning is on unless the page is opened with ?autotune=0 (or localStorage
 * "rankscope.autotune" is "0"): then the default tilings run and nothing is timed or stored.
 */
export function autotuneSetting(search = typeof location === 'undefined' ? '' : location.search): boolean {
  return switchedOn('autotune', search);
}

/**
 * Subgroup reductions (layernorm, cross-entropy) are used where the GPU has the
 * `subgroups` feature unless the page is opened with ?subgroups=0 (or localStorage
 * "rankscope.subgroups" is "0"), to compare against or rule out the plain path.
 */
export function subgroupsSetting(search = typeof location === 'undefined' ? '' : location.search): boolean {
  return switchedOn('subgroups', search);
}

/**
 * Mixed precision (frozen weights in f16, f32 arithmetic): ?mixed=1 turns it on on any GPU,
 * ?mixed=0 off (or localStorage "rankscope.mixed" = "1" / "0"); otherwise undefined, which leaves
 * the default: on where the GPU has `shader-f16`.
 */
export function mixedPrecisionSetting(search = typeof location === 'undefined' ? '' : location.search): boolean | undefined {
  let value = new URLSearchParams(search).get('mixed');
  if (value === null) {
    try {
      value = typeof localStorage === 'undefined' ? null : localStorage.getItem('rankscope.mixed');
    } catch {
      value = null;
    }
  }
  return value === null || value === '' ? undefined : value !== '0';
}

/** The worker's GPU device, acquired once; panels that talk to the lab wait for this. */
export function useLabDevice() {
  return useQuery<AdapterSummary, Error>({
    queryKey: LAB_QUERY_KEY,
    queryFn: () => getLab().init({ autotune: autotuneSetting(), subgroups: subgroupsSetting(), mixedPrecision: mixedPrecisionSetting() }),
    staleTime: Infinity,
    gcTime: Infinity,
    retry: false,
    refetchOnWindowFocus: false,
  });
}
