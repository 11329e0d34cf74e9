/**
 * A run's metrics as CSV, one row per logged record, for spreadsheets and pandas
 * (pd.read_csv(path)): training rows carry loss, accuracy, learning rate, gradient norm and
 * throughput; evaluation rows carry validation loss and accuracy; the other cells stay empty.
 */
import type { RunView } from '../state/runStore';

export const METRIC_COLUMNS = ['step', 'kind', 'loss', 'accuracy', 'lr', 'grad_norm', 'images_per_second', 'val_loss', 'val_accuracy', 'seconds'] as const;

/** A cell as CSV writes it: numbers in full precision (NaN as "NaN"), text quoted when it must be. */
function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function runMetricsCsv(run: Pick<RunView, 'train' | 'evals'>): string {
  const rows: Array<Record<string, unknown>> = [...run.train, ...run.evals.map((e) => ({ ...e }))];
  // By step; at the same step the training record comes before the evaluation that follows it.
  rows.sort((a, b) => (a.step as number) - (b.step as number) || (a.kind === b.kind ? 0 : a.kind === 'train' ? -1 : 1));
  const lines = [METRIC_COLUMNS.join(',')];
  for (const r of rows) lines.push(METRIC_COLUMNS.map((c) => cell(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

export function csvFileName(name: string): string {
  return `${name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase() || 'run'}-metrics.csv`;
}
