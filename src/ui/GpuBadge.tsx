import { useRef, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { MINIMUM_LIMITS, type AdapterSummary } from '../gpu/device';
import { WebGpuUnavailableError } from '../gpu/errors';
import { autotuneMessage, tuningHeadline, tuningRows } from '../engine/tuning/describe';
import { precisionText } from '../train/precision';
import { reductionHelp, reductionLine } from './reductions';
import { useGpu } from './useGpu';
import { getLab, useLabDevice } from './lab';

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

/** A short name for the adapter: its description, else device, else vendor and architecture. */
export function adapterName(summary: AdapterSummary): string {
  return summary.description || summary.device || [summary.vendor, summary.architecture].filter(Boolean).join(' ') || 'unknown adapter';
}

/**
 * The header's GPU badge: the adapter's name, hardware or software, and a warning when it is
 * SwiftShader (or another software rasteriser). It opens the full limits and features in a dialog.
 * When WebGPU is unavailable the badge says so and the page shows why (GpuAlert).
 */
export function GpuBadge() {
  const gpu = useGpu();
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  if (gpu.isPending) {
    return (
      <span className="gpu-badge gpu-badge-pending" data-testid="gpu-pending">
        Looking for a WebGPU adapter…
      </span>
    );
  }
  if (gpu.isError) {
    return (
      <span className="gpu-badge gpu-badge-error" data-testid="gpu-badge" data-state="unavailable">
        WebGPU unavailable
      </span>
    );
  }
  const summary = gpu.data;
  const kind = summary.isSoftware ? 'software' : 'hardware';
  return (
    <>
      <button
        type="button"
        className={`gpu-badge ${summary.isSoftware ? 'gpu-badge-warn' : 'gpu-badge-ok'}`}
        data-testid="gpu-badge"
        data-state={kind}
        aria-haspopup="dialog"
        onClick={() => {
          dialog.current?.showModal();
          setOpen(true);
        }}
        title="Show the adapter's limits and features"
      >
        <span className="gpu-badge-dot" aria-hidden="true" />
        <span className="gpu-badge-name">{adapterName(summary)}</span>
        <span className="gpu-badge-kind">{kind}</span>
        {summary.isSoftware && (
          <span className="gpu-badge-note" data-testid="gpu-badge-warning">
            ⚠ slow: emulated on the CPU
          </span>
        )}
      </button>
      <dialog ref={dialog} className="gpu-dialog" aria-labelledby="gpu-panel-title" data-testid="gpu-panel" onClose={() => setOpen(false)}>
        <div className="gpu-dialog-head">
          <h2 id="gpu-panel-title">GPU</h2>
          <button type="button" onClick={() => dialog.current?.close()} data-testid="gpu-close" autoFocus>
            Close
          </button>
        </div>
        <AdapterDetails summary={summary} />
        {open && <PrecisionDetails />}
        {open && <ReductionDetails />}
        {open && <TuningDetails />}
      </dialog>
    </>
  );
}

/** Under the header when WebGPU cannot start: why, and what to do. Nothing otherwise. */
export function GpuAlert() {
  const gpu = useGpu();
  if (!gpu.isError) return null;
  return <Unavailable error={gpu.error} retry={() => void gpu.refetch()} retrying={gpu.isFetching} />;
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

/**
 * Which precision runs on the lab's device: mixed (frozen weights in f16, f32 arithmetic) or f32,
 * why, and how to switch (?mixed=1 / ?mixed=0). Read from the worker when the dialog opens.
 */
function PrecisionDetails() {
  // Asked once the worker's device is up: a dialog opened earlier would otherwise keep "not ready".
  const device = useLabDevice();
  const precision = useQuery({ queryKey: ['gpu-precision'], queryFn: async () => (await getLab().precision()) ?? null, enabled: device.isSuccess, gcTime: 0, staleTime: 0, retry: false });
  return (
    <section data-testid="gpu-precision" data-mixed={precision.data ? String(precision.data.mixed) : undefined}>
      <h3>Precision</h3>
      <p className={precision.data ? undefined : 'muted'}>
        {precision.isPending
          ? 'Reading the precision setting…'
          : precision.isError
            ? `The training worker did not answer: ${precision.error.message}`
            : !precision.data
              ? 'The training device is not ready yet.'
              : precisionText(precision.data)}
      </p>
    </section>
  );
}

/**
 * Which path the row reductions of layernorm and cross-entropy take on the lab's device (subgroup
 * operations or workgroup shared memory) and why, as the worker's ops report it.
 */
function ReductionDetails() {
  const device = useLabDevice();
  const reductions = useQuery({ queryKey: ['gpu-reductions'], queryFn: async () => (await getLab().reductions()) ?? null, enabled: device.isSuccess, gcTime: 0, staleTime: 0, retry: false });
  return (
    <section data-testid="gpu-reductions" data-path={reductions.data?.path}>
      <h3>Reductions</h3>
      {reductions.isPending ? (
        <p className="muted">Reading the reduction path…</p>
      ) : reductions.isError ? (
        <p className="muted">The training worker did not answer: {reductions.error.message}</p>
      ) : !reductions.data ? (
        <p className="muted">The training device is not ready yet.</p>
      ) : (
        <>
          <p data-testid="gpu-reductions-line">{reductionLine(reductions.data)}</p>
          <p className="muted">{reductionHelp(reductions.data)}</p>
        </>
      )}
    </section>
  );
}

/**
 * What GEMM autotuning did on the lab's device: per shape class, the tiling in use, whether it was
 * measured in this session, read from the store, or is still the default, and the timings. Read
 * from the worker each time the dialog opens (unmounted when closed, and not cached).
 */
function TuningDetails() {
  const device = useLabDevice();
  const tuning = useQuery({ queryKey: ['gpu-tuning'], queryFn: async () => (await getLab().tuning()) ?? null, enabled: device.isSuccess, gcTime: 0, staleTime: 0, retry: false });
  const ms = (v: number | undefined) => (v === undefined ? '—' : v < 1 ? `${(v * 1000).toFixed(0)} µs` : `${v.toFixed(v < 10 ? 2 : 1)} ms`);
  return (
    <section data-testid="gpu-tuning">
      <h3>Kernel autotuning</h3>
      {tuning.isPending ? (
        <p className="muted">Reading the tuning state…</p>
      ) : tuning.isError ? (
        <p className="muted">The training worker did not answer: {tuning.error.message}</p>
      ) : !tuning.data ? (
        <p className="muted" data-testid="gpu-tuning-headline">The training device is not ready yet.</p>
      ) : (
        <>
          <p data-testid="gpu-tuning-headline" data-enabled={tuning.data.enabled}>
            {tuningHeadline(tuning.data)}
          </p>
          <p className="muted">
            The first training step of a run records the matrix-product shapes the model uses; right after it, each new
            shape class is timed with every candidate tiling ({tuning.data.timer}), within a budget of{' '}
            {(tuning.data.budgetMs / 1000).toFixed(1)} s per run, and the fastest is kept for this GPU in {tuning.data.store}.
            Tilings change speed only, never results. Open the page with <code>?autotune=0</code> to turn this off.
          </p>
          {tuning.data.storeError && <p className="notice notice-warn">{tuning.data.storeError}</p>}
          {tuning.data.recent.length > 0 && (
            <ul className="muted" data-testid="gpu-tuning-recent">
              {tuning.data.recent.map((r, i) => (
                <li key={i}>{autotuneMessage(r).replace(/ The GPU badge shows the details\.$/, '')}</li>
              ))}
            </ul>
          )}
          {tuning.data.classes.length === 0 ? (
            <p className="muted" data-testid="gpu-tuning-empty">
              No run has trained on this device yet, and nothing is stored for it.
            </p>
          ) : (
            <table className="limits" data-testid="gpu-tuning-table">
              <thead>
                <tr>
                  <th scope="col">Shape class</th>
                  <th scope="col">Timed at</th>
                  <th scope="col">Tiling</th>
                  <th scope="col">Source</th>
                  <th scope="col">Best</th>
                  <th scope="col">Default</th>
                </tr>
              </thead>
              <tbody>
                {tuningRows(tuning.data).map((r) => (
                  <tr key={r.key} data-testid="gpu-tuning-row" data-source={r.source} title={r.note}>
                    <th scope="row">
                      <code>{r.key}</code>
                    </th>
                    <td>{r.shape}</td>
                    <td>
                      <code>{r.tiling}</code>
                      {r.tiling !== r.defaultTiling && <span className="muted"> (default {r.defaultTiling})</span>}
                    </td>
                    <td>{r.source === 'default' && r.note ? `default (${r.note})` : r.source}</td>
                    <td>{ms(r.bestMs)}</td>
                    <td>
                      {ms(r.defaultMs)}
                      {r.speedup !== undefined && r.speedup > 1.005 && <span className="muted"> ({r.speedup.toFixed(2)}×)</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
