import { describeOrigin, type FileProgress, type ModelLoadStatus, type ModelOrigin } from '../state/modelStore';
import { formatBytes } from './format';

const STATUS_WORDS: Record<ModelLoadStatus, string> = {
  idle: '',
  waiting: 'Waiting for the GPU before loading',
  loading: 'Loading',
  loaded: 'Loaded',
  failed: 'Could not load',
  cancelled: 'Cancelled loading',
};

function percent(done: number, total: number | undefined): number | undefined {
  return total && total > 0 ? Math.min(100, (100 * done) / total) : undefined;
}

/** Bytes per file and overall, with a cancel button while the load runs. */
export function LoadProgress({
  origin,
  files,
  status,
  onCancel,
}: {
  origin: ModelOrigin | undefined;
  files: FileProgress[];
  status: ModelLoadStatus;
  onCancel: () => void;
}) {
  const active = status === 'loading';
  const waiting = status === 'waiting';
  const done = files.reduce((a, f) => a + f.done, 0);
  const known = files.every((f) => f.total !== undefined);
  const total = known ? files.reduce((a, f) => a + (f.total ?? 0), 0) : undefined;
  const overall = percent(done, total);
  return (
    <div className="load-progress" data-testid="model-progress" data-status={status} aria-live="polite">
      <div className="load-progress-head">
        <span>
          {STATUS_WORDS[status]}{' '}
          <code>{origin ? describeOrigin(origin) : 'model'}</code>
          {files.length > 0 && (
            <span className="muted" data-testid="model-progress-overall" data-done={done} data-total={total ?? ''}>
              {' '}
              · {formatBytes(done)}
              {total !== undefined ? ` of ${formatBytes(total)}` : ''} in {files.length} file{files.length === 1 ? '' : 's'}
            </span>
          )}
        </span>
        {(active || waiting) && (
          <button type="button" data-testid="model-cancel" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
      {(active || waiting || files.length > 0) && (
        <progress max={100} value={status === 'loaded' ? 100 : active || waiting ? overall : (overall ?? 0)} aria-label="overall progress" />
      )}
      {files.length > 0 && (
        <ul className="load-files">
          {files.map((f) => (
            <li key={f.file} data-testid="model-progress-file" data-file={f.file} data-done={f.done} data-total={f.total ?? ''}>
              <code>{f.file}</code>
              <span className="muted">
                {formatBytes(f.done)}
                {f.total !== undefined ? ` / ${formatBytes(f.total)}` : ''}
              </span>
              <progress max={100} value={percent(f.done, f.total)} aria-label={`${f.file} progress`} />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
