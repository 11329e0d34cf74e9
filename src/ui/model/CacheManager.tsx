import { useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { getLab } from '../lab';
import { useModelStore } from '../state/modelStore';
import { formatBytes } from './format';
import { requestModel } from './loader';

/** Hub models kept in the browser's storage (IndexedDB), which load again without network. */
export function CacheManager({ ready, busy }: { ready: boolean; busy: boolean }) {
  const loads = useModelStore((s) => s.loads);
  const client = useQueryClient();
  const [confirmAll, setConfirmAll] = useState(false);
  const [problem, setProblem] = useState<string>();
  const cached = useQuery({
    queryKey: ['cached-models', loads],
    queryFn: () => getLab().listCachedModels(),
    enabled: ready,
    retry: false,
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['cached-models'] });
  const clear = async (repoId?: string) => {
    setProblem(undefined);
    try {
      await getLab().clearCachedModel(repoId);
    } catch (e) {
      setProblem(`Could not remove ${repoId ?? 'the cached models'} from the browser's storage: ${(e as Error).message}. Reload the page and try again.`);
    }
    setConfirmAll(false);
    await refresh();
  };

  const models = cached.data ?? [];
  const total = models.reduce((a, m) => a + m.bytes, 0);
  return (
    <div className="model-cache" data-testid="model-cache">
      <h3>
        Downloaded models{' '}
        <span className="muted" data-testid="model-cache-count" data-count={models.length}>
          ({models.length ? `${models.length}, ${formatBytes(total)}` : 'none yet'})
        </span>
      </h3>
      <p className="muted field-help">Models downloaded from the Hub stay in this browser's storage and load again without network.</p>
      {cached.isError && (
        <p className="notice notice-error" role="alert">
          The list of downloaded models could not be read: {cached.error.message}
        </p>
      )}
      {problem && (
        <p className="notice notice-error" role="alert">
          {problem}
        </p>
      )}
      {models.length > 0 && (
        <table className="limits" data-testid="model-cache-list">
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Files</th>
              <th scope="col">Size</th>
              <th scope="col" aria-label="actions" />
            </tr>
          </thead>
          <tbody>
            {models.map((m) => (
              <tr key={`${m.repoId}@${m.revision}`} data-testid="model-cache-row" data-id={m.repoId}>
                <th scope="row">
                  <code>{m.repoId}</code>
                  {m.revision !== 'main' && <span className="muted"> @{m.revision}</span>}
                </th>
                <td>{m.files}</td>
                <td>{formatBytes(m.bytes)}</td>
                <td className="row-actions">
                  <button type="button" disabled={busy} onClick={() => requestModel({ kind: 'hub', id: m.repoId, revision: m.revision })}>
                    Load
                  </button>
                  <button type="button" data-testid="model-cache-remove" onClick={() => void clear(m.repoId)}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {models.length > 0 &&
        (confirmAll ? (
          <p className="confirm">
            Remove all {models.length} downloaded models ({formatBytes(total)})? They will download again when loaded.{' '}
            <button type="button" data-testid="model-cache-clear-confirm" onClick={() => void clear()}>
              Remove all
            </button>{' '}
            <button type="button" onClick={() => setConfirmAll(false)}>
              Keep them
            </button>
          </p>
        ) : (
          <button type="button" data-testid="model-cache-clear" onClick={() => setConfirmAll(true)}>
            Clear all…
          </button>
        ))}
    </div>
  );
}
