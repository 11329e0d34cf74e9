/**
 * The statistics a study reports: mean ± sample standard deviation per method and budget, and the
 * paired difference of two methods per budget (paired by seed: same split, same k-shot images, same
 * data order), with a 95% Student-t interval. Seeds are few (3–5), so the t quantile matters: with
 * 3 seeds the interval is ±4.30 standard errors, not ±1.96.
 */
import type { StudyRow } from './types';

export interface MeanSd {
  mean: number;
  /** Sample standard deviation (n − 1); NaN with fewer than two values. */
  sd: number;
}

export function meanSd(xs: readonly number[]): MeanSd {
  const v = xs.filter((x) => Number.isFinite(x));
  if (!v.length) return { mean: NaN, sd: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  if (v.length < 2) return { mean, sd: NaN };
  const ss = v.reduce((a, x) => a + (x - mean) ** 2, 0);
  return { mean, sd: Math.sqrt(ss / (v.length - 1)) };
}

// ---- Student's t quantile (regularised incomplete beta by Lentz's continued fraction) ----

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0.
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** I_x(a, b), the regularised incomplete beta function. */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(a, b, x)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t (bisection on the CDF; p in (0, 1)). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return NaN;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

// ---- Tables ----

/** Rows that carry a result: done, and diverged (its accuracy is that of the last finite weights). */
const counted = (r: StudyRow) => r.status === 'done' || r.status === 'diverged';

export interface SummaryRow {
  method: string;
  /** null for references. */
  budget: number | null;
  k_shot: number | null;
  /** Seeds with a result. */
  n: number;
  /** Mean achieved count (the same for every seed of a cell). */
  trainable_params: number;
  /** The matched setting when all seeds share it. */
  setting: string;
  reference: boolean;
  /** Best validation accuracy (0–1). */
  accuracy: MeanSd;
  final_accuracy: MeanSd;
  rank_effective: MeanSd;
  intruders: MeanSd;
}

const group = (r: StudyRow) => `${r.method}|${r.budget}|${r.k_shot}`;

/** Mean ± sd per method, budget and k-shot, in the order the groups first appear. */
export function summarise(rows: readonly StudyRow[]): SummaryRow[] {
  const groups = new Map<string, StudyRow[]>();
  for (const r of rows.filter(counted)) {
    const g = groups.get(group(r));
    if (g) g.push(r);
    else groups.set(group(r), [r]);
  }
  return [...groups.values()].map((g) => ({
    method: g[0].method,
    budget: g[0].budget,
    k_shot: g[0].k_shot,
    n: g.length,
    trainable_params: meanSd(g.map((r) => r.trainable_params)).mean,
    setting: g.every((r) => r.setting === g[0].setting) ? g[0].setting : 'mixed',
    reference: g[0].reference,
    accuracy: meanSd(g.map((r) => r.best_val_accuracy)),
    final_accuracy: meanSd(g.map((r) => r.final_val_accuracy)),
    rank_effective: meanSd(g.map((r) => r.rank_effective)),
    intruders: meanSd(g.map((r) => r.intruders)),
  }));
}

export type StudyMetric = 'best_val_accuracy' | 'final_val_accuracy' | 'rank_effective' | 'rank_numerical' | 'intruders';

export interface PairedDifference {
  budget: number | null;
  k_shot: number | null;
  /** Seeds present for both methods. */
  n: number;
  /** Mean of (a − b) over those seeds, in the metric's units (accuracy as a fraction). */
  mean: number;
  sd: number;
  /** 95% Student-t interval of the mean difference; NaN with fewer than two pairs. */
  lo: number;
  hi: number;
  seeds: number[];
  metric: StudyMetric;
  /** Mean trainable counts of the two arms, to show how closely the budgets matched. */
  params_a: number;
  params_b: number;
}

/**
 * The pair a study's report leads with: RandLoRA − LoRA when both are in it (the question the
 * product asks), else the second method against the first; undefined with fewer than two.
 */
export function defaultPair(methods: readonly string[]): [string, string] | undefined {
  if (methods.includes('randlora') && methods.includes('lora')) return ['randlora', 'lora'];
  return methods.length >= 2 ? [methods[1], methods[0]] : undefined;
}

/** a − b per budget and k-shot, paired by seed; budgets where either method has no result are left out. */
export function pairedDifference(rows: readonly StudyRow[], a: string, b: string, metric: StudyMetric = 'best_val_accuracy'): PairedDifference[] {
  const ok = rows.filter(counted);
  const arms = new Map<string, { budget: number | null; k_shot: number | null }>();
  for (const r of ok) if (r.method === a) arms.set(`${r.budget}|${r.k_shot}`, { budget: r.budget, k_shot: r.k_shot });
  const out: PairedDifference[] = [];
  for (const { budget, k_shot } of arms.values()) {
    const of = (m: string) => new Map(ok.filter((r) => r.method === m && r.budget === budget && r.k_shot === k_shot).map((r) => [r.seed, r]));
    const A = of(a);
    const B = of(b);
    const seeds = [...A.keys()].filter((s) => B.has(s)).sort((x, y) => x - y);
    if (!seeds.length) continue;
    const d = seeds.map((s) => (A.get(s)![metric] as number) - (B.get(s)![metric] as number));
    const { mean, sd } = meanSd(d);
    const n = seeds.length;
    const half = n >= 2 ? studentTQuantile(0.975, n - 1) * (sd / Math.sqrt(n)) : NaN;
    out.push({
      budget,
      k_shot,
      n,
      mean,
      sd,
      lo: mean - half,
      hi: mean + half,
      seeds,
      metric,
      params_a: meanSd(seeds.map((s) => A.get(s)!.trainable_params)).mean,
      params_b: meanSd(seeds.map((s) => B.get(s)!.trainable_params)).mean,
    });
  }
  return out.sort((x, y) => (x.k_shot ?? Infinity) - (y.k_shot ?? Infinity) || (x.budget ?? 0) - (y.budget ?? 0));
}

const isAccuracy = (m: StudyMetric) => m === 'best_val_accuracy' || m === 'final_val_accuracy';

function amount(v: number, metric: StudyMetric, signed = false): string {
  const x = isAccuracy(metric) ? 100 * v : v;
  const s = Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
  return signed && x > 0 ? `+${s}` : s;
}

/**
 * One plain sentence on a paired difference: whether its 95% interval excludes 0, which method is
 * ahead and by how much, or that the data do not separate them.
 */
export function verdict(diff: PairedDifference, aLabel: string, bLabel: string): string {
  const unit = isAccuracy(diff.metric) ? ' points' : '';
  const where = `${diff.budget === null ? 'As references' : `At ${Math.round(diff.budget).toLocaleString('en-US')} values`}${diff.k_shot === null ? '' : `, ${diff.k_shot}-shot`}`;
  const seeds = `${diff.n} seed${diff.n === 1 ? '' : 's'}`;
  if (diff.n < 2 || !Number.isFinite(diff.lo)) {
    return `${where} (${seeds}): ${aLabel} − ${bLabel} = ${amount(diff.mean, diff.metric, true)}${unit}, with no interval from a single seed; run more seeds to tell them apart.`;
  }
  const interval = `95% interval ${amount(diff.lo, diff.metric, true)} to ${amount(diff.hi, diff.metric, true)}${unit}`;
  if (diff.lo > 0) return `${where} (${seeds}): ${aLabel} is ahead of ${bLabel} by ${amount(diff.mean, diff.metric)}${unit} (${interval}, which excludes 0).`;
  if (diff.hi < 0) return `${where} (${seeds}): ${bLabel} is ahead of ${aLabel} by ${amount(-diff.mean, diff.metric)}${unit} (${interval}, which excludes 0).`;
  return `${where} (${seeds}): the data do not separate ${aLabel} and ${bLabel}: ${aLabel} − ${bLabel} = ${amount(diff.mean, diff.metric, true)}${unit} (${interval}, which includes 0).`;
}
