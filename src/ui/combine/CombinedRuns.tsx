/**
 * Ensembles and compositions beside the runs: their own rows in the runs list (a kind tag, progress,
 * accuracy, downloads), rows in the comparison table, and the results section with their views.
 */
import { useMemo, useState } from 'react';
import { formatBytes, formatPercent } from '../charts/series';
import { downloadBlob } from '../download';
import { combinedAccuracy, useCombineStore, type CombineView } from './combineStore';
import { ComposeView } from './ComposeView';
import { EnsembleView } from './EnsembleView';
import { deleteCombined } from './useCombine';

const KIND_LABEL = { ensemble: 'ensemble', compose: 'composition' } as const;

export function useCombinedViews(): CombineView[] {
  const order = useCombineStore((s) => s.order);
  const items = useCombineStore((s) => s.items);
  return useMemo(() => order.map((id) => items[id]).filter(Boolean), [order, items]);
}

function fileBase(v: CombineView): string {
  return v.name.split(' · ')[0].replace(/[^A-Za-z0-9._-]+/g, '-').toLowerCase();
}

function Downloads({ view }: { view: CombineView }) {
  const base = fileBase(view);
  if (view.ensemble) {
    const zip = view.ensemble.zip;
    return (
      <div className="run-exports" data-testid="combined-exports">
        <span className="muted">Export:</span>
        <button type="button" data-testid="export-ensemble" onClick={() => downloadBlob(zip, `${base}.zip`, 'application/zip')} title="ensemble.json, controller.safetensors, apply_ensemble.py and each run's merged model under members/">
          ensemble.json + controller ({formatBytes(zip.byteLength)})
        </button>
      </div>
    );
  }
  if (view.compose) {
    const { composition, merged } = view.compose;
    return (
      <div className="run-exports" data-testid="combined-exports">
        <span className="muted">Export:</span>
        <button type="button" data-testid="export-composition" onClick={() => downloadBlob(composition, 'composition.json', 'application/json')} title="The coefficients, the member runs and their fingerprints, K and the settings">
          composition.json
        </button>
        {merged && (
          <button type="button" data-testid="export-composed-merged" onClick={() => downloadBlob(merged, `${base}-merged.zip`, 'application/zip')} title="The composed model with its head as a Hugging Face checkpoint, for transformers' from_pretrained">
            Composed model ({formatBytes(merged.byteLength)})
          </button>
        )}
      </div>
    );
  }
  return null;
}

/** Ensembles and compositions in the runs list, after the runs. */
export function CombinedRunList() {
  const views = useCombinedViews();
  if (!views.length) return null;
  return (
    <ul className="run-list combined-list" data-testid="combined-list">
      {views.map((v) => {
        const acc = combinedAccuracy(v);
        const p = v.progress;
        return (
          <li key={v.id} className="run" data-testid="combined-run" data-kind={v.kind} data-state={v.state} data-accuracy={acc ?? ''} style={{ borderLeftColor: v.color }}>
            <div className="run-head">
              <span className="swatch" style={{ background: v.color }} aria-hidden="true" />
              <strong className="run-name">{v.name}</strong>
              <span className={`tag tag-kind tag-${v.kind}`}>{KIND_LABEL[v.kind]}</span>
              <span className={`tag run-state run-state-${v.state === 'running' ? 'training' : v.state}`} data-testid="combined-state">
                {v.state}
              </span>
              {v.restored && <span className="tag tag-saved">saved</span>}
              <span className="run-actions">
                {(v.state === 'done' || v.state === 'failed' || v.restored) && (
                  <button type="button" onClick={() => void deleteCombined(v.id)} data-testid="combined-delete">
                    Delete
                  </button>
                )}
              </span>
            </div>
            <div className="run-detail muted">
              Of {v.members.map((m) => m.name).join(', ')}
              {v.model && <>, model {v.model}</>}.
            </div>
            {p && (v.state === 'queued' || v.state === 'running') && (
              <div className="run-progress" data-testid="combined-progress">
                {p.total ? <progress max={p.total} value={p.step ?? 0} /> : null}
                <span>{p.message}</span>
                {p.loss !== undefined && <span>loss {p.loss.toFixed(3)}</span>}
              </div>
            )}
            {acc !== undefined && (
              <div className="run-progress" data-testid="combined-accuracy">
                <span>val accuracy {formatPercent(acc)}</span>
              </div>
            )}
            {v.state === 'failed' && (
              <div className="notice notice-error" role="alert" data-testid="combined-error">
                <p>
                  <strong>This {KIND_LABEL[v.kind]} failed:</strong> {v.error}
                </p>
              </div>
            )}
            <Downloads view={v} />
          </li>
        );
      })}
    </ul>
  );
}

/** Ensembles and compositions as rows of the comparison table (same columns as the runs'). */
export function CombinedComparisonRows() {
  const views = useCombinedViews().filter((v) => v.state === 'done');
  return (
    <>
      {views.map((v) => {
        const acc = combinedAccuracy(v) ?? NaN;
        const params = v.ensemble?.controllerParams ?? v.compose?.trainableParams;
        const steps = v.ensemble ? v.ensemble.losses.length : v.compose ? v.compose.curve[v.compose.curve.length - 1]?.step ?? 0 : 0;
        const seconds = v.ensemble?.seconds ?? v.compose?.seconds ?? NaN;
        return (
          <tr key={v.id} data-testid="comparison-row-combined" data-kind={v.kind}>
            <td>
              <span className="swatch" style={{ background: v.color }} aria-hidden="true" /> {v.name} <span className="muted">({KIND_LABEL[v.kind]})</span>
            </td>
            <td>{formatPercent(acc)}</td>
            <td data-testid="cell-final">{formatPercent(acc)}</td>
            <td>{params?.toLocaleString('en-US') ?? '—'}</td>
            <td title="Whole job, members' outputs included">{Number.isFinite(seconds) ? `${seconds.toFixed(1)} s in all` : '—'}</td>
            <td>{v.compose ? formatBytes(v.compose.estimate.totalBytes) : '—'}</td>
            <td>{steps}</td>
          </tr>
        );
      })}
    </>
  );
}

/** The chosen ensemble's or composition's view. */
export function CombinedResults() {
  const views = useCombinedViews().filter((v) => v.state === 'done' && (v.ensemble || v.compose));
  const [choice, setChoice] = useState('');
  const view = views.find((v) => v.id === choice) ?? views[views.length - 1];
  if (!view) return null;
  return (
    <section className="results combined-results" data-testid="combined-results" data-kind={view.kind}>
      <h3>
        {view.kind === 'ensemble' ? 'Ensemble' : 'Composition'}:{' '}
        <select value={view.id} onChange={(e) => setChoice(e.target.value)} data-testid="combined-choice" aria-label="Ensemble or composition to show">
          {views.map((v) => (
            <option key={v.id} value={v.id}>
              {v.name}
            </option>
          ))}
        </select>
      </h3>
      {view.ensemble && <EnsembleView key={view.id} view={view} outcome={view.ensemble} />}
      {view.compose && <ComposeView outcome={view.compose} />}
    </section>
  );
}
