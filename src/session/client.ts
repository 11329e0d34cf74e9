import * as Comlink from 'comlink';
import type { LabApi } from './protocol';

/** Starts the lab worker and returns its API; call once per page. */
export function startLab(): Comlink.Remote<LabApi> {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'rankscope-lab' });
  return Comlink.wrap<LabApi>(worker);
}

export { Comlink };
