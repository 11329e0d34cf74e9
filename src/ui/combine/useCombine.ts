/**
 * Starting ensembles and compositions from the page: the picked runs' merged zips go to the lab
 * worker (which queues the work behind any training run), progress streams back into the combine
 * store, and the outcome is archived. Also brings archived ones back once per page.
 */
import { useEffect } from 'react';
import { getLab, proxied } from '../lab';
import { useRunStore, type RunView } from '../state/runStore';
import { useModelStore } from '../state/modelStore';
import { useDataStore } from '../state/dataStore';
import { newRunId } from '../runs/specs';
import type { ControllerSettings } from '../../ensemble/controller';
import type { CombineMember, CombineProgress } from '../../session/combineTypes';
import type { ComposeRequest } from '../../session/composeTypes';
import type { ComposeEstimate, ComposeSettings } from '../../session/compose';
import { combineArchive } from './combineArchive';
import { combineColor, useCombineStore, type CombineKind, type CombineView } from './combineStore';

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function members(runs: readonly RunView[]): CombineMember[] {
  return runs.map((r) => ({ runId: r.spec.id, name: r.spec.name, merged: r.exports!.merged!, method: r.spec.method, accuracy: r.result?.final_val_accuracy }));
}

/** "Ensemble 2 · LoRA + RandLoRA + Full FT" style names, numbered per kind. */
function nameFor(kind: CombineKind, runs: readonly RunView[]): string {
  const s = useCombineStore.getState();
  const n = s.order.filter((id) => s.items[id].kind === kind).length + 1;
  return `${kind === 'ensemble' ? 'Ensemble' : 'Composition'} ${n} · ${runs.map((r) => r.spec.name).join(' + ')}`;
}

function begin(kind: CombineKind, runs: readonly RunView[], settings: CombineView['settings']): CombineView {
  const store = useCombineStore.getState();
  const view: CombineView = {
    id: newRunId().replace(/^run-/, `${kind}-`),
    kind,
    name: nameFor(kind, runs),
    color: combineColor(store.order.length),
    createdAt: Date.now(),
    state: 'queued',
    progress: { phase: 'members', message: 'Waiting for the runs queued before it to finish …' },
    members: runs.map((r) => ({ runId: r.spec.id, name: r.spec.name, color: r.color })),
    settings,
    model: useModelStore.getState().info?.source,
    dataset: useDataStore.getState().info?.source,
  };
  store.add(view);
  return view;
}

function onProgress(id: string) {
  return proxied((p: CombineProgress) => useCombineStore.getState().update(id, { state: 'running', progress: p }));
}

async function finish(id: string, work: () => Promise<Partial<CombineView>>): Promise<void> {
  try {
    const patch = await work();
    useCombineStore.getState().update(id, { ...patch, state: 'done', progress: undefined, error: undefined });
    const view = useCombineStore.getState().items[id];
    if (view) await combineArchive.save(view).catch((e) => useRunStore.getState().setArchiveError(`"${view.name}" could not be saved for later visits: ${message(e)}`));
  } catch (e) {
    useCombineStore.getState().update(id, { state: 'failed', error: message(e), progress: undefined });
  }
}

export interface EnsembleChoice {
  controller: ControllerSettings;
  kShot?: number;
  batchSize: number;
}

/** Ensembles these finished runs in the lab; resolves when it is done or failed (its view says which). */
export async function startEnsemble(runs: readonly RunView[], choice: EnsembleChoice): Promise<string> {
  const view = begin('ensemble', runs, { ...choice.controller, kShot: choice.kShot, batchSize: choice.batchSize });
  await finish(view.id, async () => ({
    ensemble: await getLab().ensembleRuns({ members: members(runs), controller: choice.controller, kShot: choice.kShot, batchSize: choice.batchSize }, onProgress(view.id)),
  }));
  return view.id;
}

export interface ComposeChoice {
  settings: ComposeSettings;
  kShot?: number;
  limitBytes: number;
}

function composeRequest(runs: readonly RunView[], choice: ComposeChoice): ComposeRequest {
  return { members: members(runs), settings: choice.settings, kShot: choice.kShot, limitBytes: choice.limitBytes };
}

/** The composition's memory estimate for these runs, before it starts. */
export function estimateComposition(runs: readonly RunView[], choice: ComposeChoice): Promise<ComposeEstimate> {
  return getLab().composeEstimate(composeRequest(runs, choice));
}

/** Composes these finished runs' task vectors in the lab; resolves when it is done or failed. */
export async function startCompose(runs: readonly RunView[], choice: ComposeChoice): Promise<string> {
  // The record keeps the head kind and how many templates, not the lists (composition.json has the templates).
  const { head, templates, classNames, ...numbers } = choice.settings;
  const view = begin('compose', runs, { ...numbers, head: head ?? 'linear', templates: templates?.length, classNames: classNames?.length, kShot: choice.kShot, limitMiB: choice.limitBytes / 2 ** 20 });
  await finish(view.id, async () => ({ compose: await getLab().composeRuns(composeRequest(runs, choice), onProgress(view.id)) }));
  return view.id;
}

export async function deleteCombined(id: string): Promise<void> {
  useCombineStore.getState().remove(id);
  await combineArchive.delete(id).catch((e) => useRunStore.getState().setArchiveError(`It was removed from the page but not from saved results: ${message(e)}`));
}

/** Brings archived ensembles and compositions back once per page (the runs panel mounts it). */
export function useCombineArchive(): void {
  useEffect(() => {
    combineArchive
      .load()
      .then((views) => useCombineStore.getState().restore(views))
      .catch((e) => useRunStore.getState().setArchiveError(`Saved ensembles and compositions could not be read back: ${message(e)}`));
  }, []);
}
