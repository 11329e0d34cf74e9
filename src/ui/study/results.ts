/**
 * What the study's charts draw, from its rows: per method and budget the mean ± sd of accuracy and
 * of ΔW's effective rank at the mean achieved count (log x), each with the runs behind it so a
 * point opens them; references (full fine-tuning, probe, zero-shot) as mean ± sd bands.
 */
import type { StudyRow } from '../../study/types';
import { meanSd } from '../../study/stats';

export interface StudyPoint {
  method: string;
  budget: number | null;
  k_shot: number | null;
  setting: string;
  /** False when the budget lay outside the method's range (the nearest setting ran); `note` says how. */
  reachable: boolean;
  note?: string;
  /** Mean achieved trainable values over the seeds (the x of the point). */
  params: number;
  n: number;
  accuracy: { mean: number; sd: number };
  rank: { mean: number; sd: number };
  intruders: { mean: number; sd: number };
  runIds: string[];
}

function finite(xs: number[]): number[] {
  return xs.filter((x) => Number.isFinite(x));
}

function stat(xs: number[]): { mean: number; sd: number } {
  const ok = finite(xs);
  if (!ok.length) return { mean: NaN, sd: NaN };
  const { mean, sd } = meanSd(ok);
  return { mean, sd: Number.isFinite(sd) ? sd : 0 };
}

/** Rows grouped by method, budget and k-shot, in first-seen order. */
export function studyPoints(rows: readonly StudyRow[]): StudyPoint[] {
  const groups = new Map<string, StudyRow[]>();
  for (const r of rows) {
    const key = `${r.method}|${r.budget}|${r.k_shot}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].map((g) => ({
    method: g[0].method,
    budget: g[0].budget,
    k_shot: g[0].k_shot,
    setting: g[0].setting,
    reachable: g.every((r) => r.reachable),
    ...(g[0].note ? { note: g[0].note } : {}),
    params: stat(g.map((r) => r.trainable_params)).mean,
    n: g.length,
    accuracy: stat(g.map((r) => r.best_val_accuracy)),
    rank: stat(g.map((r) => r.rank_effective)),
    intruders: stat(g.map((r) => r.intruders)),
    runIds: g.map((r) => r.run_id).filter((id): id is string => !!id),
  }));
}

/** Adapter points per method (sorted by count, for the line through the means) and reference bands, for one k-shot value. */
export function chartSeries(rows: readonly StudyRow[], kShot: number | null): { methods: Array<{ method: string; points: StudyPoint[] }>; references: StudyPoint[] } {
  const points = studyPoints(rows.filter((r) => r.k_shot === kShot));
  const methods = new Map<string, StudyPoint[]>();
  const references: StudyPoint[] = [];
  for (const p of points) {
    if (p.budget === null) references.push(p);
    else methods.set(p.method, [...(methods.get(p.method) ?? []), p]);
  }
  return {
    methods: [...methods.entries()].map(([method, pts]) => ({ method, points: pts.sort((a, b) => a.params - b.params) })),
    references,
  };
}

/** A log axis's domain around the points: whole decades, or half a decade either side when they all sit in one. */
export function logDomain(xs: readonly number[]): [number, number] {
  const ok = xs.filter((x) => x > 0 && Number.isFinite(x));
  if (!ok.length) return [1, 10];
  const lo = Math.min(...ok);
  const hi = Math.max(...ok);
  return [10 ** Math.floor(Math.log10(lo) - 0.05), 10 ** Math.ceil(Math.log10(hi) + 0.05)];
}

/** 1, 2, 5 × each power of ten inside a log axis's domain: readable ticks for counts. */
export function logTicks([lo, hi]: [number, number]): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of [1, 2, 5]) if (m * 10 ** e >= lo && m * 10 ** e <= hi) out.push(m * 10 ** e);
  return out;
}

/** Methods with a point at some budget in the rows (the pairs a person can choose from). */
export function pairableMethods(rows: readonly StudyRow[]): string[] {
  return [...new Set(rows.filter((r) => r.budget !== null).map((r) => r.method))];
}

/** The pair the results lead with; the CLI's study report uses the same one. */
export { defaultPair } from '../../study/stats';
