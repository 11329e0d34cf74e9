import { useEffect } from 'react';
import { getLab, onRunEvent } from '../lab';
import { FINISHED, isInterrupted, useRunStore, type RunMeta, type RunView } from '../state/runStore';
import { useDataStore } from '../state/dataStore';
import { useModelStore } from '../state/modelStore';
import { currentEnvironment } from './environment';
import { runArchive } from '../state/runArchive';
import type { RunSpec } from '../../session/run';
import { uniqueName } from './specs';
import { IndexedDbCheckpointStore } from '../../session/idbCheckpointStore';

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
      const view = useRunStore.getState().runs[e.runId];
      if (!view) return;
      if (e.type === 'state' && FINISHED.has(e.state)) {
        if (keepable(view)) void archiveRun(view);
        // Kept while queued or training (to be resumed after a reload); nothing to keep now.
        else void runArchive.delete(e.runId).catch(() => undefined);
      }
      // The run as of its newest stored checkpoint: what a reload shows as interrupted there.
      if (e.type === 'checkpoint' && e.stored) void archiveRun(view);
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
  // Kept from now on, so a reload leaves the queue to resume rather than losing it.
  for (const spec of specs) {
    const view = useRunStore.getState().runs[spec.id];
    if (view) void archiveRun(view);
  }
}

/**
 * Resume on an interrupted run: it goes back into the lab's queue from its stored checkpoint
 * (from the start when it had none), followed by the interrupted runs queued after it, so the
 * rest of the queue goes on too. The model and data set it trained on must be loaded again.
 */
export async function resumeInterrupted(id: string): Promise<void> {
  const store = useRunStore.getState();
  const first = store.runs[id];
  if (!first || !isInterrupted(first)) return;
  await resumeRuns(store.order.filter((x) => x === id || (isInterrupted(store.runs[x]) && store.runs[x].createdAt > first.createdAt)));
}

/**
 * Resumes these interrupted runs, in this order, each from its stored checkpoint (from the start
 * when it had none). The model and data set they trained on must be loaded again.
 */
export async function resumeRuns(ids: readonly string[]): Promise<void> {
  const store = useRunStore.getState();
  const first = store.runs[ids[0]];
  if (!first) return;
  const specs = ids.map((x) => store.runs[x].spec);
  const model = useModelStore.getState().info;
  const data = useDataStore.getState().info;
  const missing = !model ? `the model${first.model ? ` ${first.model}` : ''}` : !data ? `the data set${first.dataset ? ` ${first.dataset}` : ''}` : undefined;
  if (missing) {
    store.interrupt([first.spec.id], `Load ${missing} this run trained on, then press Resume.`);
    return;
  }
  store.requeue([...ids]);
  try {
    await getLab().resumeRuns(specs);
  } catch (e) {
    useRunStore.getState().interrupt([...ids], `Could not resume: ${message(e)}`);
  }
}

/** Discard on an interrupted run: forgets it and its stored checkpoint. */
export async function discardInterrupted(id: string): Promise<void> {
  await deleteRun(id);
  try {
    // Straight from the page: the lab worker may not be ready yet after a reload.
    await new IndexedDbCheckpointStore().delete(id);
  } catch (e) {
    useRunStore.getState().setArchiveError(`The run's checkpoint could not be deleted: ${message(e)}`);
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
