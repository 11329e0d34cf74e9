/**
 * A study's chart as a standalone SVG string: a metric (best validation accuracy by default)
 * against trainable parameters on a log axis, mean ± sd per method and budget joined by a line,
 * references (full fine-tuning, probe, zero-shot) as horizontal bands of mean ± sd. Used by the
 * CLI (DIR/study.svg) and the page's download; no DOM needed.
 */
import { summarise, type SummaryRow } from './stats';
import type { StudyRow } from './types';

export interface StudySvgOptions {
  width?: number;
  height?: number;
  /** 'accuracy' (best validation accuracy, %) or 'rank_effective' (mean ΔW effective rank). */
  metric?: 'accuracy' | 'rank_effective';
  /** Which k-shot arm to draw (default: the first in the rows; null = all data). */
  kShot?: number | null;
  title?: string;
  /** Display names by method id (default: the ids). */
  labels?: Record<string, string>;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const REFERENCE_COLOURS: Record<string, string> = { full: '#555555', probe: '#999999', zeroshot: '#bcbd22' };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number) => (Number.isFinite(v) ? +v.toFixed(2) : 0);

function compact(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

export function studySvg(rows: readonly StudyRow[], options: StudySvgOptions = {}): string {
  const W = options.width ?? 720;
  const H = options.height ?? 420;
  const metric = options.metric ?? 'accuracy';
  const kShot = options.kShot !== undefined ? options.kShot : (rows[0]?.k_shot ?? null);
  const label = (m: string) => options.labels?.[m] ?? m;
  const value = (s: SummaryRow) => (metric === 'accuracy' ? { mean: 100 * s.accuracy.mean, sd: 100 * s.accuracy.sd } : s.rank_effective);
  const all = summarise(rows).filter((s) => s.k_shot === kShot);
  const points = all.filter((s) => !s.reference && s.trainable_params > 0);
  const refs = metric === 'accuracy' ? all.filter((s) => s.reference) : [];
  const m = { left: 60, right: 150, top: 36, bottom: 48 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const xs = points.map((p) => p.trainable_params);
  const xMin = xs.length ? Math.min(...xs) / 1.5 : 1;
  const xMax = xs.length ? Math.max(...xs) * 1.5 : 10;
  const ys: number[] = [];
  for (const s of [...points, ...refs]) {
    const v = value(s);
    const sd = Number.isFinite(v.sd) ? v.sd : 0;
    if (Number.isFinite(v.mean)) ys.push(v.mean - sd, v.mean + sd);
  }
  let yMin = ys.length ? Math.min(...ys) : 0;
  let yMax = ys.length ? Math.max(...ys) : 1;
  if (yMax - yMin < 1e-9) [yMin, yMax] = [yMin - 1, yMax + 1];
  const pad = 0.08 * (yMax - yMin);
  yMin -= pad;
  yMax += pad;
  const X = (v: number) => m.left + (pw * (Math.log10(v) - Math.log10(xMin))) / (Math.log10(xMax) - Math.log10(xMin));
  const Y = (v: number) => m.top + ph - (ph * (v - yMin)) / (yMax - yMin);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  const title = options.title ?? `${metric === 'accuracy' ? 'Best validation accuracy' : 'ΔW effective rank'} against trainable parameters${kShot === null ? '' : ` (${kShot}-shot)`}`;
  out.push(`<text x="${m.left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`);
  // Axes, with decade ticks (and 2×, 5× when the range is narrow).
  out.push(`<g stroke="#333" fill="none"><line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}"/><line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}"/></g>`);
  const decades = Math.log10(xMax) - Math.log10(xMin);
  const steps = decades < 2 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(xMin)); e <= Math.ceil(Math.log10(xMax)); e++)
    for (const f of steps) {
      const v = f * 10 ** e;
      if (v < xMin || v > xMax) continue;
      out.push(`<line x1="${num(X(v))}" y1="${m.top + ph}" x2="${num(X(v))}" y2="${m.top + ph + 5}" stroke="#333"/><text x="${num(X(v))}" y="${m.top + ph + 18}" text-anchor="middle">${compact(v)}</text>`);
    }
  for (let i = 0; i <= 5; i++) {
    const v = yMin + ((yMax - yMin) * i) / 5;
    out.push(`<line x1="${m.left - 5}" y1="${num(Y(v))}" x2="${m.left}" y2="${num(Y(v))}" stroke="#333"/><text x="${m.left - 8}" y="${num(Y(v) + 4)}" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  out.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">trainable parameters (log scale)</text>`);
  out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${metric === 'accuracy' ? 'accuracy (%), mean ± sd' : 'effective rank, mean ± sd'}</text>`);
  let legendY = m.top + 4;
  const legend = (colour: string, text: string, band = false) => {
    const x = m.left + pw + 14;
    out.push(band ? `<rect x="${x}" y="${legendY - 6}" width="16" height="10" fill="${colour}" fill-opacity="0.25" stroke="${colour}"/>` : `<line x1="${x}" y1="${legendY}" x2="${x + 16}" y2="${legendY}" stroke="${colour}" stroke-width="2"/><circle cx="${x + 8}" cy="${legendY}" r="3" fill="${colour}"/>`);
    out.push(`<text x="${x + 22}" y="${legendY + 4}">${esc(text)}</text>`);
    legendY += 18;
  };
  for (const r of refs) {
    const v = value(r);
    if (!Number.isFinite(v.mean)) continue;
    const sd = Number.isFinite(v.sd) ? v.sd : 0;
    const c = REFERENCE_COLOURS[r.method] ?? '#777';
    out.push(`<g data-reference="${esc(r.method)}"><rect x="${m.left}" y="${num(Y(v.mean + sd))}" width="${pw}" height="${num(Math.max(1, Y(v.mean - sd) - Y(v.mean + sd)))}" fill="${c}" fill-opacity="0.18"/><line x1="${m.left}" y1="${num(Y(v.mean))}" x2="${m.left + pw}" y2="${num(Y(v.mean))}" stroke="${c}" stroke-dasharray="5 4"/></g>`);
    legend(c, `${label(r.method)} ${v.mean.toFixed(1)}${Number.isFinite(v.sd) ? ` ± ${v.sd.toFixed(1)}` : ''} (n=${r.n})`, true);
  }
  const methods = [...new Set(points.map((p) => p.method))];
  methods.forEach((method, i) => {
    const c = PALETTE[i % PALETTE.length];
    const ps = points.filter((p) => p.method === method).sort((a, b) => a.trainable_params - b.trainable_params);
    const drawn = ps.filter((p) => Number.isFinite(value(p).mean));
    out.push(`<g data-method="${esc(method)}">`);
    if (drawn.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${drawn.map((p) => `${num(X(p.trainable_params))},${num(Y(value(p).mean))}`).join(' ')}"/>`);
    for (const p of drawn) {
      const v = value(p);
      const x = num(X(p.trainable_params));
      if (Number.isFinite(v.sd)) out.push(`<line x1="${x}" y1="${num(Y(v.mean - v.sd))}" x2="${x}" y2="${num(Y(v.mean + v.sd))}" stroke="${c}"/>`);
      out.push(`<circle cx="${x}" cy="${num(Y(v.mean))}" r="4" fill="${c}"><title>${esc(`${label(method)} ${p.setting}: ${Math.round(p.trainable_params).toLocaleString('en-US')} values, ${v.mean.toFixed(2)}${Number.isFinite(v.sd) ? ` ± ${v.sd.toFixed(2)}` : ''} (n=${p.n})`)}</title></circle>`);
    }
    out.push('</g>');
    legend(c, label(method));
  });
  if (!points.length && !refs.length) out.push(`<text x="${m.left + pw / 2}" y="${m.top + ph / 2}" text-anchor="middle">No finished runs yet.</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
