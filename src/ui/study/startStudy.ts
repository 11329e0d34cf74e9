/**
 * Starting and continuing a study: its cells become runs in the lab's one queue (queueRuns), each
 * tagged with its cell, exactly like the runs the method panel queues.
 */
import { METHODS, type MethodId } from '../../methods/registry';
import type { StudySpec } from '../../study/types';
import { augmentationOf, useDataStore } from '../state/dataStore';
import { currentRunSpec, effectiveTargets, useMethodStore } from '../state/methodStore';
import { getLab } from '../lab';
import { useModelStore } from '../state/modelStore';
import { useRunStore } from '../state/runStore';
import { queueRuns, resumeRuns } from '../runs/useRuns';
import { cellRunSpec, cellsLeft, queueOrder, studyProgress, STUDY_LR, type PageStudy } from './pageStudy';
import { countsFromEstimates, planPageStudy } from './newStudy';
import { useStudyStore } from './studyStore';

/** The head's and backbone's trainable counts of the loaded model with the panel's settings, from the lab's estimate(). */
export async function loadedCounts(): Promise<{ head: number; backbone: number }> {
  const specs = (['probe', 'full'] as const).map((method) => ({ id: `study-count-${method}`, name: method, ...currentRunSpec(method) }));
  const counts = countsFromEstimates(await getLab().estimate(specs));
  if (!counts) throw new Error('The lab did not estimate the probe and full fine-tuning, so the study cannot count trainable values; reload the page.');
  return counts;
}

/** Plans a study on what the lab has loaded now (the method panel's targets, the training panel's settings). */
export function planOnLoaded(spec: StudySpec, counts: { head: number; backbone: number }, lr: Record<string, number> = {}): PageStudy {
  const model = useModelStore.getState().info;
  const data = useDataStore.getState().info;
  if (!model) throw new Error('Load a model in the setup column before planning a study.');
  if (!data) throw new Error('Load a data set in the setup column before planning a study.');
  const m = useMethodStore.getState();
  const targets = effectiveTargets(m.targets, model);
  const rates: Record<string, number> = {};
  for (const id of [...spec.methods, 'full', 'probe'] as MethodId[]) rates[id] = lr[id] ?? STUDY_LR[id];
  return planPageStudy(spec, {
    model,
    counts,
    dataset: data.source,
    targets,
    train: m.train,
    lr: rates,
    augment: augmentationOf(useDataStore.getState().augment),
    configs: Object.fromEntries(spec.methods.filter((id) => id in METHODS).map((id) => [id, m.configs[id as MethodId]])),
  });
}

/** Makes `study` the page's study and queues every reachable cell. */
export async function startStudy(study: PageStudy): Promise<number> {
  useStudyStore.getState().setStudy(study);
  return continueStudy(study);
}

/**
 * Takes up the cells with no finished run; resolves to how many. Runs a reload interrupted are
 * resumed from their checkpoints (as their own Resume button does); cells with no run, or a failed
 * or stopped one, are queued anew after them.
 */
export async function continueStudy(study: PageStudy): Promise<number> {
  const s = useRunStore.getState();
  const progress = studyProgress(study, s.order.map((id) => s.runs[id]));
  const interrupted = progress.filter((p) => p.state === 'interrupted' && p.run).map((p) => p.run!.spec.id);
  const fresh = queueOrder(study, cellsLeft(progress.filter((p) => p.state !== 'interrupted')));
  if (interrupted.length) await resumeRuns(interrupted);
  if (fresh.length) {
    const model = useModelStore.getState().info;
    const data = useDataStore.getState().info;
    await queueRuns(
      fresh.map((cell) => cellRunSpec(study, cell)),
      { model: model?.source, dataset: data?.source },
    );
  }
  return interrupted.length + fresh.length;
}

/** Why the loaded model or data cannot continue this study, if so. */
export function mismatch(study: PageStudy): string | undefined {
  const model = useModelStore.getState().info;
  const data = useDataStore.getState().info;
  if (!model || !data) return undefined;
  const wrong = [
    study.model && model.source !== study.model && `the model ${study.model} (loaded: ${model.source})`,
    study.dataset && data.source !== study.dataset && `the data set ${study.dataset} (loaded: ${data.source})`,
  ].filter(Boolean);
  return wrong.length ? `This study was planned on ${wrong.join(' and ')}; load those again to continue it, or plan a new study.` : undefined;
}
