import { useMutation } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import type { DataPlan } from '../session/prepare';
import type { DatasetRequest, LoadProgressEvent } from '../session/protocol';
import { getLab, proxied, useLabDevice } from './lab';
import { useDataStore, type DataOrigin } from './state/dataStore';
import { AugmentControls } from './data/AugmentControls';
import { BUILTIN_DATASETS, builtinBase, type BuiltinDataset } from './data/builtin';
import { ClassCounts } from './data/ClassCounts';
import type { PickedFiles } from './data/files';
import { SampleGrid } from './data/SampleGrid';
import { SkippedFiles } from './data/SkippedFiles';
import { SourcePicker } from './data/SourcePicker';
import { SplitControls } from './data/SplitControls';
import './data/data.css';

function samePlan(a: DataPlan, b: DataPlan): boolean {
  return a.valFraction === b.valFraction && a.seed === b.seed && a.kShot === b.kShot && a.trainLimit === b.trainLimit && a.valLimit === b.valLimit;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isCancel(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || /was cancelled/.test(e.message));
}

/** Calls `fn` with the latest value at most every `ms` milliseconds (and once more with the last one). */
function throttled<T>(fn: (v: T) => void, ms: number): (v: T) => void {
  let last = 0;
  let pending: ReturnType<typeof setTimeout> | undefined;
  let latest: T;
  return (v: T) => {
    latest = v;
    const now = performance.now();
    if (now - last >= ms) {
      last = now;
      fn(v);
    } else if (!pending) {
      pending = setTimeout(() => {
        pending = undefined;
        last = performance.now();
        fn(latest);
      }, ms);
    }
  };
}

/**
 * The data panel: load a data set (built-in, dropped or picked files), see its classes, samples
 * and unreadable files, choose the seeded train/validation split, few-shot k and size limits
 * (counts update as they change), and the training-time augmentation.
 */
export function DatasetPanel() {
  const device = useLabDevice();
  const info = useDataStore((s) => s.info);
  const plan = useDataStore((s) => s.plan);
  const origin = useDataStore((s) => s.origin);
  const setInfo = useDataStore((s) => s.setInfo);
  const setOrigin = useDataStore((s) => s.setOrigin);
  const [progress, setProgress] = useState<LoadProgressEvent>();
  const [splitError, setSplitError] = useState<string>();
  const [replanning, setReplanning] = useState(false);
  /** The plan the shown counts were made with. */
  const applied = useRef<DataPlan | undefined>(undefined);
  const replanSeq = useRef(0);

  const load = useMutation({
    mutationFn: async ({ req, origin }: { req: DatasetRequest; origin: DataOrigin }) => {
      const used = { ...useDataStore.getState().plan };
      setProgress(undefined);
      const onProgress = throttled((p: LoadProgressEvent) => setProgress(p), 100);
      const next = await getLab().loadDataset(req, used, proxied(onProgress));
      return { info: next, used, origin };
    },
    onSuccess: ({ info: next, used, origin: o }) => {
      replanSeq.current++;
      applied.current = used;
      setInfo(next);
      setOrigin(o);
      setSplitError(undefined);
    },
  });

  // A new split, seed, k or limit: split the loaded set again in the worker (no re-reading) and show the new counts.
  useEffect(() => {
    if (!info || load.isPending) return;
    if (!applied.current) {
      // Loaded elsewhere (a test hook) with the plan in the store.
      applied.current = plan;
      return;
    }
    if (samePlan(applied.current, plan)) return;
    const seq = ++replanSeq.current;
    const timer = setTimeout(() => {
      setReplanning(true);
      getLab()
        .replanDataset(plan)
        .then(
          (next) => {
            if (seq !== replanSeq.current) return;
            applied.current = plan;
            setSplitError(undefined);
            setInfo(next);
          },
          (e: unknown) => {
            if (seq !== replanSeq.current) return;
            applied.current = plan;
            setSplitError(messageOf(e));
          },
        )
        .finally(() => {
          if (seq === replanSeq.current) setReplanning(false);
        });
    }, 100);
    return () => clearTimeout(timer);
  }, [plan, info, load.isPending, setInfo]);

  const loadBuiltin = (d: BuiltinDataset) =>
    load.mutate({ req: { kind: 'url', base: builtinBase(d), files: d.files }, origin: { kind: 'builtin', label: `Built-in: ${d.label}` } });
  // The offline demo asks for a built-in set before this panel can load it: load it once the GPU is ready.
  const pendingBuiltin = useDataStore((s) => s.pendingBuiltin);
  useEffect(() => {
    if (!pendingBuiltin || !device.isSuccess) return;
    useDataStore.setState({ pendingBuiltin: undefined });
    const d = BUILTIN_DATASETS.find((b) => b.id === pendingBuiltin);
    if (d) loadBuiltin(d);
    // loadBuiltin is recreated each render; the request is what matters.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pendingBuiltin, device.isSuccess]);
  const loadFiles = (p: PickedFiles) => load.mutate({ req: { kind: 'files', files: p.files }, origin: { kind: 'files', label: p.label } });

  const waiting = device.isPending
    ? 'Waiting for the GPU to be ready: data sets load into the lab next to the model.'
    : device.isError
      ? `Data sets load into the lab on the GPU, which could not start (${device.error.message}); see the GPU panel above.`
      : undefined;
  const imageCount = info ? info.counts.reduce((a, b) => a + b, 0) : 0;

  return (
    <section className="panel data-panel" aria-labelledby="dataset-panel-title" data-testid="dataset-panel">
      <h2 id="dataset-panel-title">Data set</h2>
      <p className="muted panel-intro">
        Labelled images to fine-tune on. They are resized and normalised on the GPU with the model’s own preprocessing (size, mean, std), and
        grayscale images are expanded to three channels.
      </p>
      <SourcePicker
        ready={device.isSuccess}
        waiting={waiting}
        loading={load.isPending}
        progress={progress}
        onBuiltin={loadBuiltin}
        onFiles={loadFiles}
        onCancel={() => void getLab().cancelLoad('dataset')}
      />
      {load.isError &&
        (isCancel(load.error) ? (
          <p className="muted" data-testid="dataset-cancelled">
            Loading was cancelled{info ? `; ${origin?.label ?? 'the previous data set'} is still loaded` : ''}.
          </p>
        ) : (
          <div className="notice notice-error" role="alert" data-testid="dataset-error">
            <h3>The data set could not be loaded</h3>
            <p>{messageOf(load.error)}</p>
            {info && <p className="muted">{origin?.label ?? 'The previous data set'} is still loaded.</p>}
          </div>
        ))}

      {info && (
        <>
          <dl className="facts data-summary" data-testid="dataset-summary">
            <dt>Loaded</dt>
            <dd data-testid="dataset-origin">{origin?.label ?? info.source}</dd>
            <dt>From</dt>
            <dd className="muted">{info.source}</dd>
            <dt>Images</dt>
            <dd data-testid="dataset-images">{imageCount.toLocaleString('en-US')}</dd>
            <dt>Classes</dt>
            <dd data-testid="dataset-classes">{info.classNames.length}</dd>
            {info.held && (
              <>
                <dt>Held</dt>
                <dd data-testid="dataset-held" data-where={info.held.where}>
                  {info.held.where === 'disk' ? 'on disk (browser storage), read per batch' : 'in memory'}
                  {info.held.edge ? `, shortest edge ${info.held.edge} px` : ''}
                </dd>
              </>
            )}
          </dl>
          <SkippedFiles skipped={info.skipped} />
        </>
      )}

      <h3>Split</h3>
      <SplitControls error={splitError} />

      {info && (
        <>
          <h3>
            Images per class{' '}
            {replanning && (
              <span className="muted small" data-testid="replanning">
                updating…
              </span>
            )}
          </h3>
          <ClassCounts info={info} kShot={plan.kShot} />
          <h3>Samples</h3>
          <SampleGrid info={info} />
        </>
      )}

      <h3>Augmentation</h3>
      <AugmentControls info={info} />
    </section>
  );
}
