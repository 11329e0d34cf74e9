import { useEffect } from 'react';
import { getLab, onRunEvent } from '../lab';
import { FINISHED, useRunStore, type RunMeta, type RunView } from '../state/runStore';
import { useDataStore } from '../state/dataStore';
import { useModelStore } from '../state/modelStore';
import { currentEnvironment } from './environment';
import { runArchive } from '../state/runArchive';
import type { RunSpec } from '../../session/run';
import { uniqueName } from './specs';

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Worth keeping: a run that ended with something to show (failed runs with no numbers are not). */
function keepable(view: RunView): boolean {
  return (view.state === 'done' || view.state === 'stopped' || view.state === 'diverged') && (view.train.length > 0 || view.result !== undefined);
}

/** Saves a run for later visits; says so on the page when the browser refuses. */
export async function archiveRun(view: RunView): Promise<void> {
  try {
    await runArchive.save(view);
  } catch (e) {
    useRunStore.getState().setArchiveError(`"${view.spec.name}" could not be saved for later visits: ${message(e)} It stays on this page until you reload.`);
  }
}

/**
 * Feeds the lab worker's run events into the run store, saves each run that finishes to the
 * archive, and brings archived runs back once per page. Mount once (the runs panel does).
 */
export function useRunEvents(): void {
  useEffect(() => {
    const off = onRunEvent((e) => {
      const store = useRunStore.getState();
      store.apply(e);
      if (e.type === 'state' && FINISHED.has(e.state)) {
        const view = useRunStore.getState().runs[e.runId];
        if (view && keepable(view)) void archiveRun(view);
      }
    });
    runArchive
      .load()
      .then((views) => useRunStore.getState().restore(views))
      .catch((e) => useRunStore.getState().setArchiveError(`Saved runs could not be read back: ${message(e)}`));
    return off;
  }, []);

  // Leaving the page ends the worker, and with it any run in flight: ask first.
  const busy = useRunStore((s) => s.order.some((id) => !FINISHED.has(s.runs[id].state) && !s.runs[id].restored));
  useEffect(() => {
    if (!busy) return;
    const warn = (ev: BeforeUnloadEvent) => {
      ev.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [busy]);
}

/** Adds runs to the page and the lab's queue; if the lab refuses them, takes them back out and rethrows. */
export async function queueRuns(specs: RunSpec[], given: { model?: string; dataset?: string }): Promise<void> {
  const store = useRunStore.getState();
  // The record a run file carries: which files exactly, and where it trained.
  const meta: RunMeta = {
    ...given,
    modelFingerprint: useModelStore.getState().info?.fingerprint,
    datasetFingerprint: useDataStore.getState().info?.fingerprint,
    environment: currentEnvironment(),
  };
  const taken = new Set(store.order.map((id) => store.runs[id].spec.name));
  for (const spec of specs) {
    spec.name = uniqueName(spec.name, taken);
    taken.add(spec.name);
    store.add(spec, meta);
  }
  try {
    await getLab().enqueue(specs);
  } catch (e) {
    for (const spec of specs) useRunStore.getState().remove(spec.id);
    throw e;
  }
}

export async function deleteRun(id: string): Promise<void> {
  useRunStore.getState().remove(id);
  try {
    await runArchive.delete(id);
  } catch (e) {
    useRunStore.getState().setArchiveError(`The run was removed from the page but not from saved runs: ${message(e)}`);
  }
}

export function pauseRun(id: string): void {
  void getLab().pause(id);
}

export function resumeRun(id: string): void {
  void getLab().resume(id);
}

export function stopRun(id: string): void {
  void getLab().stop(id);
}
