import { MINIMUM_LIMITS, type AdapterSummary } from '../gpu/device';
import { WebGpuUnavailableError } from '../gpu/errors';
import { useGpu } from './useGpu';

/** Features `acquireGpu` turns on when the adapter offers them. */
const REQUESTED_FEATURES: Record<string, string> = {
  'timestamp-query': 'kernel timings',
  subgroups: 'subgroup operations',
  'shader-f16': 'half-precision shaders',
};

const BYTE_LIMITS = new Set(['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize']);

function formatLimit(name: string, value: number | undefined): string {
  if (value === undefined) return '—';
  if (!BYTE_LIMITS.has(name)) return value.toLocaleString('en-US');
  if (value >= 1024 * 1024 * 1024) return `${(value / 1024 ** 3).toFixed(value % 1024 ** 3 ? 1 : 0)} GiB`;
  if (value >= 1024 * 1024) return `${(value / 1024 ** 2).toFixed(value % 1024 ** 2 ? 1 : 0)} MiB`;
  if (value >= 1024) return `${(value / 1024).toFixed(value % 1024 ? 1 : 0)} KiB`;
  return `${value} B`;
}

export function GpuPanel() {
  const gpu = useGpu();
  return (
    <section className="panel" aria-labelledby="gpu-panel-title" data-testid="gpu-panel">
      <h2 id="gpu-panel-title">GPU</h2>
      {gpu.isPending && (
        <p className="muted" data-testid="gpu-pending">
          Looking for a WebGPU adapter…
        </p>
      )}
      {gpu.isError && <Unavailable error={gpu.error} retry={() => void gpu.refetch()} retrying={gpu.isFetching} />}
      {gpu.isSuccess && <AdapterDetails summary={gpu.data} />}
    </section>
  );
}

function Unavailable({ error, retry, retrying }: { error: Error; retry: () => void; retrying: boolean }) {
  const reason = error instanceof WebGpuUnavailableError ? error.reason : 'error';
  return (
    <div className="notice notice-error" role="alert" data-testid="gpu-unavailable" data-reason={reason}>
      <h3>WebGPU is not available</h3>
      <p data-testid="gpu-unavailable-message">
        {error instanceof WebGpuUnavailableError ? error.message : `WebGPU could not be started: ${error.message}`}
      </p>
      <p className="muted">Rankscope trains models on your GPU through WebGPU, so nothing can run until this is fixed.</p>
      <button type="button" onClick={retry} disabled={retrying}>
        {retrying ? 'Trying…' : 'Try again'}
      </button>
    </div>
  );
}

function AdapterDetails({ summary }: { summary: AdapterSummary }) {
  const minimums: Record<string, number> = MINIMUM_LIMITS;
  return (
    <div data-testid="gpu-adapter">
      <dl className="facts">
        <dt>Vendor</dt>
        <dd data-testid="gpu-vendor">{summary.vendor}</dd>
        <dt>Architecture</dt>
        <dd data-testid="gpu-architecture">{summary.architecture}</dd>
        <dt>Device</dt>
        <dd data-testid="gpu-device">{summary.device || '—'}</dd>
        <dt>Description</dt>
        <dd data-testid="gpu-description">{summary.description || '—'}</dd>
        <dt>Type</dt>
        <dd data-testid="gpu-type" data-software={summary.isSoftware}>
          {summary.isSoftware ? <span className="tag tag-warn">software</span> : <span className="tag tag-ok">hardware</span>}
        </dd>
      </dl>
      {summary.isSoftware && (
        <p className="notice notice-warn" data-testid="gpu-software-note">
          This is a software adapter that emulates a GPU on the CPU. Everything works, but training is very slow: use
          small models and datasets here, or open Rankscope on a machine with a GPU.
        </p>
      )}

      <h3>Limits</h3>
      <table className="limits" data-testid="gpu-limits">
        <thead>
          <tr>
            <th scope="col">Limit</th>
            <th scope="col">Adapter</th>
            <th scope="col">Rankscope needs</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(summary.limits).map(([name, value]) => (
            <tr key={name} data-testid="gpu-limit" data-limit={name}>
              <th scope="row">
                <code>{name}</code>
              </th>
              <td>{formatLimit(name, value)}</td>
              <td className="muted">{name in minimums ? `≥ ${formatLimit(name, minimums[name])}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h3>Features ({summary.features.length})</h3>
      {summary.features.length === 0 ? (
        <p className="muted" data-testid="gpu-features-empty">
          This adapter offers no optional features; Rankscope runs without them.
        </p>
      ) : (
        <ul className="features" data-testid="gpu-features">
          {summary.features.map((feature) => (
            <li key={feature} data-testid="gpu-feature" data-feature={feature}>
              <code>{feature}</code>
              {feature in REQUESTED_FEATURES && (
                <span className="tag tag-ok" title={`Requested by Rankscope: ${REQUESTED_FEATURES[feature]}`}>
                  used
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
