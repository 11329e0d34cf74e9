import { formatPercent } from '../charts/series';
import type { AccuracyRow } from './tables';

/** One combined result's accuracy beside what it is read against. */
export function AccuracyTable({ rows, testId, highlight }: { rows: AccuracyRow[]; testId: string; highlight: AccuracyRow['kind'] }) {
  return (
    <table className="data-table" data-testid={testId}>
      <thead>
        <tr>
          <th>Model</th>
          <th>Val accuracy</th>
          <th>What it is</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i} data-testid="accuracy-row" data-kind={r.kind} data-value={r.accuracy ?? ''} className={r.kind === highlight ? 'combine-highlight' : undefined}>
            <td>{r.label}</td>
            <td>{r.accuracy === null ? '—' : formatPercent(r.accuracy)}</td>
            <td className="muted">{r.note}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
