/**
 * Which finished runs can be ensembled or composed on the page: runs that ended with numbers on
 * the model loaded now, whose merged checkpoint the page still holds (`RunExports.merged`, kept in
 * the archive with the run). Pure, so the rules are tested without a browser.
 */
import type { RunView } from '../state/runStore';

const ENDED_WITH_NUMBERS = new Set(['done', 'stopped', 'diverged']);

/** Finished runs on `model` with a result, whatever their files. */
export function finishedOn(runs: readonly RunView[], model: string | undefined): RunView[] {
  if (!model) return [];
  return runs.filter((r) => ENDED_WITH_NUMBERS.has(r.state) && !!r.result && r.model === model);
}

export interface Combinable {
  /** Runs that can take part. */
  runs: RunView[];
  /** Finished runs on this model that cannot, each with why (no merged model kept). */
  left: Array<{ run: RunView; why: string }>;
}

export function combinable(runs: readonly RunView[], model: string | undefined): Combinable {
  const out: Combinable = { runs: [], left: [] };
  for (const r of finishedOn(runs, model)) {
    if (r.exports?.merged?.byteLength) out.runs.push(r);
    else out.left.push({ run: r, why: r.exports?.note ?? (r.imported ? 'imported from a run file, which holds no weights: train it here to use it' : 'its merged model was not kept: run it again') });
  }
  return out;
}

/** Why the picked runs cannot be ensembled on the loaded data set, or undefined when they can. */
export function ensembleRefusal(picked: readonly RunView[], classNames: readonly string[] | undefined): string | undefined {
  if (picked.length < 2) return `Pick at least two runs to ensemble (${picked.length} picked).`;
  if (!classNames) return 'Load the data set the runs were trained on.';
  const other = picked.find((r) => JSON.stringify(r.result?.classNames) !== JSON.stringify(classNames));
  if (other) {
    return `"${other.spec.name}" was trained on the classes ${JSON.stringify(other.result?.classNames)}, but the loaded data set has ${JSON.stringify(classNames)}. Ensemble members classify the same classes: load that data set, or leave the run out.`;
  }
  return undefined;
}

/** Why the picked runs cannot be composed, or undefined when they can (any classes: task vectors leave the heads out). */
export function composeRefusal(picked: readonly RunView[]): string | undefined {
  if (picked.length < 1) return 'Pick at least one run whose task vector to compose.';
  return undefined;
}
