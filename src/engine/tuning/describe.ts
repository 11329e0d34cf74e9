/**
 * Words and table rows for what the GEMM autotuner did: the run log's notice, the page's GPU
 * dialog, and the bench's column. Pure functions of the tuner's report and summary.
 */
import type { AutotuneReport, TunedClass, TuningSummary } from './matmulTuner';

function seconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/** "Tuned the GEMM tiling of 5 shape classes for this GPU in 1.8 s (timestamp-query); 3 more … next run." */
export function autotuneMessage(r: AutotuneReport): string {
  const changed = r.chosen.filter((c) => c.tiling !== c.defaultTiling).length;
  const classes = (n: number) => `${n} shape class${n === 1 ? '' : 'es'}`;
  const when = r.afterStep !== undefined ? `between steps ${r.afterStep} and ${r.afterStep + 1}` : 'between two steps';
  const timing = `(${r.tilingsTimed} tilings timed by ${r.timer}; ${seconds(r.warmupMs)} of it compiling), ${when}`;
  // A run whose budget went on compiling finishes no class: say what it did time, not "tuned 0".
  let text = r.measured
    ? `Tuned the GEMM tiling of ${classes(r.measured)} for this GPU in ${seconds(r.spentMs)} ${timing}: ${changed} differ from the default tiling.`
    : `Timed GEMM tilings for this GPU for ${seconds(r.spentMs)} ${timing}, without finishing a shape class yet.`;
  if (r.deferred) text += ` ${classes(r.deferred)} did not fit the ${seconds(r.budgetMs)} budget and keep the default until a later run tunes them.`;
  return `${text} The GPU badge shows the details.`;
}

export interface TuningRow {
  key: string;
  shape: string;
  tiling: string;
  defaultTiling: string;
  source: TunedClass['source'];
  /** The winner's and the default's ms per launch, and the speed-up of one over the other, where both were timed. */
  bestMs?: number;
  defaultMs?: number;
  speedup?: number;
  note?: string;
}

/** Rows for the GPU dialog, tuned classes first, each with its gain over the default tiling. */
export function tuningRows(s: TuningSummary): TuningRow[] {
  const order: Record<TunedClass['source'], number> = { measured: 0, cache: 1, default: 2 };
  return [...s.classes]
    .sort((a, b) => order[a.source] - order[b.source] || a.key.localeCompare(b.key))
    .map((c) => {
      const best = c.timings.find((t) => t.tiling === c.tiling)?.ms;
      const def = c.timings.find((t) => t.tiling === c.defaultTiling)?.ms;
      return {
        key: c.key,
        shape: c.shape,
        tiling: c.tiling,
        defaultTiling: c.defaultTiling,
        source: c.source,
        ...(best !== undefined ? { bestMs: best } : {}),
        ...(def !== undefined ? { defaultMs: def } : {}),
        ...(best !== undefined && def !== undefined && best > 0 ? { speedup: def / best } : {}),
        ...(c.note ? { note: c.note } : {}),
      };
    });
}

/** One line for the badge dialog's heading and the bench: "on · 7 classes (5 measured, 2 cached, 0 default) · 1.8 s". */
export function tuningHeadline(s: TuningSummary): string {
  if (!s.enabled) return `off${s.disabledReason ? ` (${s.disabledReason})` : ''}`;
  const n = (src: TunedClass['source']) => s.classes.filter((c) => c.source === src).length;
  return `on · ${s.classes.length} shape classes (${n('measured')} measured now, ${n('cache')} from cache, ${n('default')} default) · ${seconds(s.spentMs)} spent tuning`;
}
