import { useState, type ReactNode } from 'react';
import { METHODS } from '../../methods/registry';
import type { RunView } from '../state/runStore';
import { formatBytes, formatPercent } from './series';

type Finished = RunView & { result: NonNullable<RunView['result']> };

function finishedRuns(runs: RunView[]): Finished[] {
  return runs.filter((r): r is Finished => r.result !== undefined);
}

/** Best and final accuracy, trainable parameters, time per step and peak memory of every finished run. */
export function ComparisonTable({ runs, extraRows }: { runs: RunView[]; extraRows?: ReactNode }) {
  const done = finishedRuns(runs);
  if (!done.length) return null;
  const best = Math.max(...done.map((r) => r.result.best_val_accuracy));
  return (
    <section className="results" data-testid="comparison">
      <h3>Comparison</h3>
      <p className="explain">
        One row per finished run, on the same validation images: accuracy at its best evaluation and at the end, how many values it trained
        (classification head included), seconds per optimizer step (the first run after loading a model also pays for compiling GPU
        kernels), and the most GPU memory the lab held while it ran.
      </p>
      <div className="table-scroll">
        <table className="data-table" data-testid="comparison-table">
          <thead>
            <tr>
              <th>Run</th>
              <th>Best val accuracy</th>
              <th>Final val accuracy</th>
              <th>Trainable parameters</th>
              <th>Time per step</th>
              <th>Peak GPU memory</th>
              <th>Steps</th>
            </tr>
          </thead>
          <tbody>
            {done.map((run) => {
              const r = run.result;
              return (
                <tr key={run.spec.id} data-testid="comparison-row" data-run-id={run.spec.id}>
                  <td>
                    <span className="swatch" style={{ background: run.color }} aria-hidden="true" /> {run.spec.name}
                    {run.state === 'stopped' && <span className="muted"> (stopped early)</span>}
                    {run.state === 'diverged' && <span className="muted"> (diverged)</span>}
                  </td>
                  <td data-testid="cell-best" className={r.best_val_accuracy === best ? 'best' : undefined}>
                    {formatPercent(r.best_val_accuracy)}
                  </td>
                  <td data-testid="cell-final">{formatPercent(r.final_val_accuracy)}</td>
                  <td data-testid="cell-params">{r.trainable_params.toLocaleString('en-US')}</td>
                  <td data-testid="cell-time">{r.seconds_per_step < 1 ? `${(r.seconds_per_step * 1000).toFixed(0)} ms` : `${r.seconds_per_step.toFixed(2)} s`}</td>
                  <td data-testid="cell-memory">{formatBytes(r.peak_gpu_bytes)}</td>
                  <td>{r.steps}</td>
                </tr>
              );
            })}
            {extraRows}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** Per-class accuracy and the confusion matrix of one finished run, chosen by the person. */
export function ClassBreakdown({ runs }: { runs: RunView[] }) {
  const done = finishedRuns(runs);
  const [choice, setChoice] = useState('');
  const run = done.find((r) => r.spec.id === choice) ?? done[done.length - 1];
  if (!run) return null;
  const { perClassAccuracy, classNames, confusion } = run.result;
  const rowTotals = confusion.map((row) => row.reduce((a, b) => a + b, 0));
  return (
    <section className="results" data-testid="class-breakdown">
      <h3>
        Per class:{' '}
        <select value={run.spec.id} onChange={(e) => setChoice(e.target.value)} data-testid="breakdown-run" aria-label="Run to break down by class">
          {done.map((r) => (
            <option key={r.spec.id} value={r.spec.id}>
              {r.spec.name}
            </option>
          ))}
        </select>
      </h3>
      <p className="explain">
        {METHODS[run.spec.method].label}'s final accuracy on each class of the validation set, and its confusion matrix: row = true class,
        column = predicted class, darker = a larger share of that row; the diagonal holds the correct answers.
      </p>
      <div className="breakdown">
        <table className="data-table per-class" data-testid="per-class-accuracy">
          <thead>
            <tr>
              <th>Class</th>
              <th>Accuracy</th>
              <th>Images</th>
            </tr>
          </thead>
          <tbody>
            {classNames.map((name, c) => (
              <tr key={name}>
                <td>{name}</td>
                <td>
                  <span className="bar" aria-hidden="true">
                    <span style={{ width: `${(perClassAccuracy[c] ?? 0) * 100}%`, background: run.color }} />
                  </span>{' '}
                  {formatPercent(perClassAccuracy[c] ?? 0)}
                </td>
                <td>{rowTotals[c] ?? 0}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="table-scroll">
          <table className="confusion" data-testid="confusion-matrix">
            <thead>
              <tr>
                <th className="corner">true ↓ / predicted →</th>
                {classNames.map((name, c) => (
                  <th key={name} title={name} className="col-head">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {confusion.map((row, t) => (
                <tr key={classNames[t] ?? t}>
                  <th title={classNames[t]}>
                    {t} {classNames[t]}
                  </th>
                  {row.map((n, p) => {
                    const share = rowTotals[t] ? n / rowTotals[t] : 0;
                    return (
                      <td
                        key={p}
                        title={`${n} of ${rowTotals[t]} "${classNames[t]}" images predicted as "${classNames[p]}"`}
                        className={t === p ? 'diag' : undefined}
                        style={{ background: `color-mix(in srgb, ${run.color} ${Math.round(share * 85)}%, transparent)`, color: share > 0.5 ? '#fff' : undefined }}
                      >
                        {n}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}
