/**
 * Chart data from runs: one row per x value with one column per run, the shape recharts draws
 * several lines from. Pure functions, tested without a browser.
 */
import type { Spectrum } from '../../train/rank';

export interface Point {
  x: number;
  y: number;
}

/**
 * Exponential moving average, debiased like TensorBoard's smoothing: with weight w in [0, 1),
 * s_t = w·s_{t−1} + (1−w)·y_t, divided by 1 − w^t so the first points are not pulled to zero.
 */
export function ema(values: readonly number[], weight: number): number[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  let acc = 0;
  let norm = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    acc = w * acc + (1 - w) * v;
    norm = w * norm + (1 - w);
    return acc / norm;
  });
}

export type Row = { x: number } & Record<string, number | null>;

/** Merges per-run series into rows sorted by x; a run without a value at some x gets null there. */
export function mergeSeries(series: ReadonlyArray<{ key: string; points: readonly Point[] }>): Row[] {
  const byX = new Map<number, Row>();
  for (const { key, points } of series) {
    for (const p of points) {
      let row = byX.get(p.x);
      if (!row) byX.set(p.x, (row = { x: p.x } as Row));
      row[key] = p.y;
    }
  }
  const keys = series.map((s) => s.key);
  const rows = [...byX.values()].sort((a, b) => a.x - b.x);
  for (const row of rows) for (const k of keys) if (!(k in row)) row[k] = null;
  return rows;
}

/** The chart key of a run: recharts reads dots in a dataKey as paths, so ids are not used as is. */
export function seriesKey(index: number, suffix = ''): string {
  return `s${index}${suffix}`;
}

/** The latest spectrum a run reported for one layer. */
export function latestSpectrum(spectra: ReadonlyArray<{ step: number; spectrum: Spectrum }>, layer: string): { step: number; spectrum: Spectrum } | undefined {
  for (let i = spectra.length - 1; i >= 0; i--) if (spectra[i].spectrum.module === layer) return spectra[i];
  return undefined;
}

/**
 * Rows for the log-scale spectrum chart: x = index of the singular value (1-based), one column
 * per run. A log axis cannot show zero, so values under `floor` are drawn at the floor; the exact
 * value stays in the `${key}_exact` column for the tooltip.
 */
export function spectrumRows(spectra: ReadonlyArray<{ key: string; values: readonly number[] }>): { rows: Row[]; floor: number; top: number } {
  let top = 0;
  for (const s of spectra) for (const v of s.values) top = Math.max(top, v);
  // Six decades under the largest value: f32 round-off of a merged update sits around 1e-7 of it.
  const floor = top > 0 ? 10 ** Math.floor(Math.log10(top * 1e-6)) : 1e-8;
  const n = Math.max(0, ...spectra.map((s) => s.values.length));
  const rows: Row[] = [];
  for (let i = 0; i < n; i++) {
    const row = { x: i + 1 } as Row;
    for (const s of spectra) {
      const v = s.values[i];
      row[s.key] = v === undefined ? null : Math.max(v, floor);
      row[`${s.key}_exact`] = v === undefined ? null : v;
    }
    rows.push(row);
  }
  return { rows, floor, top };
}

/** Powers of ten from the floor up to just above the top, for a readable log axis. */
export function decadeTicks(floor: number, top: number): number[] {
  const lo = Math.floor(Math.log10(floor));
  const hi = Math.ceil(Math.log10(Math.max(top, floor * 10)));
  const step = Math.max(1, Math.ceil((hi - lo) / 8));
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e += step) ticks.push(10 ** e);
  return ticks;
}

export function formatNumber(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toString();
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return n.toLocaleString('en-US');
}

export function formatPercent(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}
