/** A study's rows as CSV (RFC 4180: comma-separated, quoted where needed, CRLF line ends). */
import type { StudyRow } from './types';

export const CSV_COLUMNS = [
  'key',
  'method',
  'setting',
  'trainable_params',
  'budget',
  'seed',
  'k_shot',
  'reference',
  'reachable',
  'status',
  'best_val_accuracy',
  'final_val_accuracy',
  'rank_numerical',
  'rank_effective',
  'intruders',
  'seconds',
  'run_id',
  'note',
] as const;

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number' && !Number.isFinite(v)) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function studyCsv(rows: readonly StudyRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) lines.push(CSV_COLUMNS.map((c) => cell((r as unknown as Record<string, unknown>)[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
