/**
 * Matching budgets and laying out a study's cells. Each method says through its `budget` knob
 * (src/methods/types.ts) which setting moves its trainable count and over what range; the count
 * itself is the method's own `countParams`, so the study never switches on a method's id.
 */
import { expectedTensors, linearSites, matchesTarget } from '../models/names';
import type { ModelSpec } from '../models/spec';
import type { HeadKind } from '../models/zeroShot';
import { methodById, resolvedConfig, type TargetLayer } from '../methods/registry';
import type { StudyCell, StudyReference, StudySpec } from './types';

export interface BudgetMatch {
  config: Record<string, unknown>;
  /** e.g. "r=4" */
  setting: string;
  /** Achieved count (the head included when `head` was given). */
  trainable_params: number;
  /** Whether the budget lies within what the method can reach on these layers. */
  reachable: boolean;
  note?: string;
}

export interface MatchOptions {
  /** Trainable values of the head, added to every count (0: budgets count the method alone). */
  head?: number;
  /** See StudySpec.scale. */
  scale?: 'ratio' | 'fixed';
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * The method's setting whose trainable count is closest to `budget` (ties: the smaller count).
 * Out of reach (below the method's least or above its most) it takes the nearest end and says so.
 */
export function matchBudget(methodId: string, budget: number, layers: readonly TargetLayer[], base: Record<string, unknown> = {}, options: MatchOptions = {}): BudgetMatch {
  const method = methodById(methodId);
  const knob = method.budget;
  if (!knob) throw new Error(`${method.label} has no setting that moves its trainable count, so it cannot be matched to a budget; run it as a reference instead.`);
  if (!layers.length) throw new Error(`No targeted layers: ${method.label} has nothing to count. Check the target modules.`);
  if (!(budget > 0)) throw new Error(`A budget must be a positive number of trainable values; got ${budget}.`);
  const head = options.head ?? 0;
  const start = resolvedConfig(methodId, base);
  const rankKey = method.knobs.rank;
  const scaleKey = method.knobs.scale;
  const baseValue = knob.value(start as never);
  // Whether the knob is the method's rank (LoRA's r, RandLoRA's r; not NOLA's k): only then does the scale follow it.
  const knobIsRank = !!rankKey && (knob.apply(start as never, baseValue + 1) as Record<string, unknown>)[rankKey] !== start[rankKey];
  const ratio = knobIsRank && scaleKey && typeof start[scaleKey] === 'number' ? (start[scaleKey] as number) / baseValue : undefined;
  const at = (v: number): Record<string, unknown> => {
    const c = knob.apply(start as never, v) as Record<string, unknown>;
    // Keep s = α/r steady as r moves (the 'ratio' policy), so a budget changes the shape, not the step size.
    if (ratio !== undefined && (options.scale ?? 'ratio') === 'ratio') c[scaleKey!] = ratio * v;
    return c;
  };
  const count = (v: number) => head + method.countParams(at(v) as never, layers);
  const [lo, hi] = knob.range(layers);
  let best = lo;
  let bestCount = count(lo);
  let least = bestCount;
  let most = bestCount;
  let leastAt = lo;
  let mostAt = lo;
  for (let v = lo + 1; v <= hi; v++) {
    const n = count(v);
    if (n < least) [least, leastAt] = [n, v];
    if (n > most) [most, mostAt] = [n, v];
    const d = Math.abs(n - budget);
    const bd = Math.abs(bestCount - budget);
    if (d < bd || (d === bd && n < bestCount)) [best, bestCount] = [v, n];
  }
  const setting = `${knob.label}=${best}`;
  const counted = head ? ' (head included)' : '';
  let note: string | undefined;
  let reachable = true;
  if (budget < least) {
    reachable = false;
    note = `${method.label} cannot go below ${fmt(least)} values${counted} (${knob.label}=${leastAt}); budget ${fmt(budget)} is out of reach.`;
  } else if (budget > most) {
    reachable = false;
    note = `${method.label} cannot go above ${fmt(most)} values${counted} (${knob.label}=${mostAt}) on these layers; budget ${fmt(budget)} is out of reach.`;
  } else if (Math.abs(bestCount - budget) > 0.1 * budget) {
    note = `${method.label}'s closest setting ${setting} gives ${fmt(bestCount)} values, ${Math.round((100 * Math.abs(bestCount - budget)) / budget)}% from ${fmt(budget)}.`;
  }
  return { config: at(best), setting, trainable_params: bestCount, reachable, ...(note ? { note } : {}) };
}

/** What a study needs to know of the model: targeted layers and the counts of the head and the backbone. */
export interface StudyShape {
  layers: TargetLayer[];
  /** Trainable values of the classification head (0 for a frozen zero-shot head). */
  head: number;
  /** Every backbone weight (what full fine-tuning trains besides the head). */
  backbone: number;
}

/** The same counts src/session/estimate.ts gives the comparison table (a test keeps them equal). */
export function studyShape(spec: ModelSpec, targets: readonly string[], numLabels: number, head: HeadKind = 'linear'): StudyShape {
  const layers = linearSites(spec)
    .filter((s) => matchesTarget(s.module, targets))
    .map((s) => ({ module: s.module, out: s.out, in: s.in }));
  let backbone = 0;
  for (const shape of expectedTensors(spec).values()) backbone += shape.reduce((a, b) => a * b, 1);
  const headCount = head === 'zeroshot' ? 0 : head === 'zeroshot-init' ? numLabels * (spec.projectionDim ?? spec.hidden) : numLabels * spec.hidden + numLabels;
  return { layers, head: headCount, backbone };
}

const kText = (k: number | null) => (k === null ? 'all' : String(k));

export function cellKey(method: string, budget: number | null, seed: number, kShot: number | null): string {
  return `${method}|${budget === null ? 'ref' : `b=${budget}`}|s=${seed}|k=${kText(kShot)}`;
}

/** The reference's trainable count, as the comparison table counts it. */
function referenceCount(ref: StudyReference, shape: StudyShape, includeHead: boolean): number {
  const head = includeHead ? shape.head : 0;
  if (ref === 'full') return shape.backbone + head;
  if (ref === 'probe') return head;
  return 0;
}

/**
 * Every cell of a study in run order: per k-shot, per seed, the references first and then
 * method × budget, so a study stopped early still holds complete seeds to compare.
 * `baseConfigs` are the method settings besides the knob (e.g. LoRA's alpha), by method id.
 */
export function planStudy(spec: StudySpec, shape: StudyShape, baseConfigs: Record<string, Record<string, unknown>> = {}): StudyCell[] {
  if (!spec.seeds.length) throw new Error('A study needs at least one seed.');
  const kShots = spec.kShots.length ? spec.kShots : [null];
  const head = spec.includeHead ? shape.head : 0;
  const matches = new Map<string, ReturnType<typeof matchBudget>>();
  for (const m of spec.methods) for (const b of spec.budgets) matches.set(`${m}|${b}`, matchBudget(m, b, shape.layers, baseConfigs[m], { head, scale: spec.scale }));
  const cells: StudyCell[] = [];
  for (const k of kShots)
    for (const seed of spec.seeds) {
      for (const ref of spec.references) {
        const method = ref === 'zeroshot' ? 'zeroshot' : ref;
        cells.push({
          key: cellKey(method, null, seed, k),
          method,
          config: ref === 'zeroshot' ? {} : resolvedConfig(ref, baseConfigs[ref]),
          setting: '',
          trainable_params: referenceCount(ref, shape, spec.includeHead),
          budget: null,
          seed,
          k_shot: k,
          reference: true,
          reachable: true,
        });
      }
      for (const m of spec.methods)
        for (const b of spec.budgets) {
          const match = matches.get(`${m}|${b}`)!;
          cells.push({
            key: cellKey(m, b, seed, k),
            method: m,
            config: match.config,
            setting: match.setting,
            trainable_params: match.trainable_params,
            budget: b,
            seed,
            k_shot: k,
            reference: false,
            reachable: match.reachable,
            ...(match.note ? { note: match.note } : {}),
          });
        }
    }
  return cells;
}
