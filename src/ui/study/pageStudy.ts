/**
 * A study on the page: its plan (src/study's cells) and the run settings every cell shares, and
 * the pure steps between it and the lab's runs — a cell's RunSpec, a finished run's StudyRow,
 * which cells are done and which are left. Kept apart from React so they are tested directly.
 */
import { METHODS, type MethodId } from '../../methods/registry';
import type { Augmentation } from '../../engine/ops/preprocess';
import type { RunSpec } from '../../session/run';
import type { StudyCell, StudyRow, StudySpec } from '../../study/types';
import { countIntruders, type LayerIntruders } from '../../train/intruders';
import { TRAIN_DEFAULTS } from '../../train/trainer';
import { latestSpectrum } from '../charts/series';
import type { RunView } from '../state/runStore';
import { zeroShotRunSpec } from '../method/zeroShotSpec';
import { defaultRankEvery, formatLr, newRunId, type TrainSettings } from '../runs/specs';

export interface PageStudy {
  id: string;
  createdAt: number;
  spec: StudySpec;
  cells: StudyCell[];
  /** What every cell's run shares: the training panel's settings when the study was made. */
  train: TrainSettings;
  targets: string[];
  /** Peak learning rate per method (references included). */
  lr: Record<string, number>;
  rankLayer?: string;
  augment?: Augmentation;
  /** How many values the classification head trains (counted in budgets when spec.includeHead). */
  headParams: number;
  /** The model and data set it was planned on (ModelInfo.source, DatasetInfo.source). */
  model?: string;
  dataset?: string;
}

/**
 * Learning rates a study starts from: the method's own study rate (VeRA's), else the comparison's,
 * else the adapters' step.
 */
export const STUDY_LR: Record<MethodId, number> = Object.fromEntries(
  (Object.keys(METHODS) as MethodId[]).map((id) => [id, METHODS[id].studyLr ?? METHODS[id].comparisonLr ?? 5e-3]),
) as Record<MethodId, number>;

/** The reference runs a study can add, as method ids of their runs ('zeroshot' is the frozen zero-shot head). */
export const REFERENCE_LABEL: Record<string, string> = { full: 'Full fine-tuning', probe: 'Linear probe', zeroshot: 'Zero-shot' };

export function methodLabel(method: string): string {
  return REFERENCE_LABEL[method] ?? (method in METHODS ? METHODS[method as MethodId].label : method);
}

/** "LoRA r=4 · seed 1 · 4-shot": tells a study's runs apart in the runs list. */
export function cellRunName(cell: StudyCell): string {
  const setting = cell.setting ? ` ${cell.setting}` : '';
  const shot = cell.k_shot !== null ? ` · ${cell.k_shot}-shot` : '';
  return `${methodLabel(cell.method)}${setting} · seed ${cell.seed}${shot}`;
}

/** The run that fills one cell: the study's shared settings, the cell's method, setting, seed and k-shot. */
export function cellRunSpec(study: PageStudy, cell: StudyCell, id = newRunId()): RunSpec {
  const tag = { id: study.id, key: cell.key, budget: cell.budget, seed: cell.seed, k_shot: cell.k_shot };
  const kShot = cell.k_shot !== null ? { k: cell.k_shot, seed: cell.seed } : undefined;
  if (cell.method === 'zeroshot') {
    const spec = zeroShotRunSpec(id, { ...study.train, seed: cell.seed }, study.targets);
    return { ...spec, name: cellRunName(cell), study: tag, ...(kShot && { kShot }) };
  }
  const method = cell.method as MethodId;
  const lr = study.lr[method] ?? STUDY_LR[method] ?? TRAIN_DEFAULTS.lr;
  const train: TrainSettings = { ...TRAIN_DEFAULTS, ...study.train, lr, seed: cell.seed, headLr: undefined };
  // Enough loss points for a live curve on short runs, as the method panel's runs have.
  train.logEvery = Math.max(1, Math.min(train.logEvery, Math.round(train.steps / 40)));
  if (study.augment) train.augment = study.augment;
  else delete train.augment;
  return {
    id,
    name: `${cellRunName(cell)} · lr ${formatLr(lr)}`,
    method,
    methodConfig: { ...METHODS[method].defaults, ...cell.config },
    targets: study.targets,
    train,
    rankLayer: study.rankLayer,
    rankEvery: defaultRankEvery(train.steps),
    study: tag,
    ...(kShot && { kShot }),
  };
}

/** What a finished run measured on every targeted layer at its end (src/train/layerAnalysis.ts), where it did. */
interface Analysed {
  intruders_per_layer?: LayerIntruders[];
  rank_numerical?: number;
  rank_effective?: number;
}

function analysed(run: RunView): Analysed {
  return (run.result ?? {}) as Analysed;
}

/** The per-layer intruder cosines a finished run reported (src/train/intruders.ts), if any. */
export function runIntruders(run: RunView): LayerIntruders[] | undefined {
  const layers = analysed(run).intruders_per_layer;
  return Array.isArray(layers) ? layers : undefined;
}

/** Intruder dimensions over every layer of a run, counted at ε. */
export function totalIntruders(layers: readonly LayerIntruders[] | undefined, eps: number): number {
  if (!layers?.length) return NaN;
  return layers.reduce((n, l) => n + countIntruders(l, eps), 0);
}

/** A run's state as far as its cell goes. */
export type CellState = 'missing' | 'queued' | 'running' | 'done' | 'diverged' | 'failed' | 'stopped' | 'interrupted';

function cellStateOf(run: RunView | undefined): CellState {
  if (!run) return 'missing';
  const s = run.state as string;
  if (s === 'done' || s === 'diverged' || s === 'failed' || s === 'stopped') return s;
  // Anything else restored from the archive was cut off by a reload: it waits in the runs list to
  // be resumed from its checkpoint (an imported run file has none, so its cell starts over).
  if (run.restored) return run.imported ? 'missing' : 'interrupted';
  return s === 'queued' ? 'queued' : 'running';
}

/** Better states win when a cell has several runs (a failed one queued again). */
const RANK: Record<CellState, number> = { missing: 0, stopped: 1, failed: 2, interrupted: 3, queued: 4, running: 5, diverged: 6, done: 7 };

export interface CellProgress {
  cell: StudyCell;
  state: CellState;
  run?: RunView;
}

/** Each cell of the study with the run that fills it best (runs carry their cell in spec.study). */
export function studyProgress(study: PageStudy, runs: readonly RunView[]): CellProgress[] {
  const byKey = new Map<string, RunView>();
  for (const run of runs) {
    const tag = run.spec.study;
    if (!tag || tag.id !== study.id) continue;
    const prev = byKey.get(tag.key);
    if (!prev || RANK[cellStateOf(run)] >= RANK[cellStateOf(prev)]) byKey.set(tag.key, run);
  }
  return study.cells.map((cell) => {
    const run = byKey.get(cell.key);
    return { cell, state: cellStateOf(run), run };
  });
}

/**
 * Cells a "Continue" takes up: those with no run, or whose run failed or was stopped (queued
 * anew), and those whose run a reload interrupted (resumed from its checkpoint, not duplicated). A
 * cell whose budget is out of its method's reach runs too, at the nearest end of the method's
 * range (as the CLI runs it), and its note says so wherever it is shown.
 */
export function cellsLeft(progress: readonly CellProgress[]): StudyCell[] {
  return progress.filter((p) => p.state === 'missing' || p.state === 'failed' || p.state === 'stopped' || p.state === 'interrupted').map((p) => p.cell);
}

/**
 * The order a study's runs queue in: seed by seed (within a seed by k-shot, then budget, methods
 * in the study's order, references last), so the first seed's pairs are complete early and the
 * paired differences fill in while the study runs.
 */
export function queueOrder(study: Pick<PageStudy, 'spec'>, cells: readonly StudyCell[]): StudyCell[] {
  const methodIndex = (m: string) => {
    const i = study.spec.methods.indexOf(m);
    return i >= 0 ? i : study.spec.methods.length + study.spec.references.indexOf(m as never);
  };
  const kIndex = (k: number | null) => study.spec.kShots.indexOf(k);
  return [...cells].sort(
    (a, b) =>
      study.spec.seeds.indexOf(a.seed) - study.spec.seeds.indexOf(b.seed) ||
      kIndex(a.k_shot) - kIndex(b.k_shot) ||
      (a.budget ?? Infinity) - (b.budget ?? Infinity) ||
      methodIndex(a.method) - methodIndex(b.method),
  );
}

/** The row a finished run gives its cell, as the CLI's study.json has it; intruders counted at ε. */
export function studyRow(p: CellProgress, eps: number, rankLayer?: string): StudyRow | undefined {
  const run = p.run;
  if (!run?.result || (p.state !== 'done' && p.state !== 'diverged')) return undefined;
  // Ranks as the CLI's study.json has them: the mean over every targeted layer, measured at the
  // run's end; runs saved before that measurement fall back to the tracked layer's last spectrum.
  const a = analysed(run);
  const layer = run.rankLayer ?? rankLayer ?? run.spectra[run.spectra.length - 1]?.spectrum.module;
  const spectrum = layer ? latestSpectrum(run.spectra, layer)?.spectrum : undefined;
  const perLayer = runIntruders(run);
  const row: StudyRow = {
    ...p.cell,
    status: p.state,
    best_val_accuracy: run.result.best_val_accuracy,
    final_val_accuracy: run.result.final_val_accuracy,
    rank_numerical: a.rank_numerical ?? spectrum?.numericalRank ?? NaN,
    rank_effective: a.rank_effective ?? spectrum?.effectiveRank ?? NaN,
    intruders: totalIntruders(perLayer, eps),
    run_id: run.spec.id,
    seconds: run.result.seconds,
  };
  if (perLayer) row.intruders_per_layer = perLayer;
  return row;
}

/** Every finished cell's row. */
export function studyRows(progress: readonly CellProgress[], eps: number, rankLayer?: string): StudyRow[] {
  return progress.map((p) => studyRow(p, eps, rankLayer)).filter((r): r is StudyRow => r !== undefined);
}

/** Counts for the study's status line (`unreachable`: cells run at the nearest end of their method's range). */
export function progressCounts(progress: readonly CellProgress[]): Record<CellState, number> & { total: number; unreachable: number } {
  const counts = { missing: 0, queued: 0, running: 0, done: 0, diverged: 0, failed: 0, stopped: 0, interrupted: 0, total: 0, unreachable: 0 };
  for (const p of progress) {
    if (!p.cell.reachable) counts.unreachable++;
    counts[p.state]++;
    counts.total++;
  }
  return counts;
}
