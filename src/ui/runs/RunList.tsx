import { METHODS } from '../../methods/registry';
import { TRAIN_DEFAULTS } from '../../train/trainer';
import type { RunState } from '../../session/run';
import { FINISHED, isInterrupted, type RunView } from '../state/runStore';
import { formatNumber, formatPercent } from '../charts/series';
import { deleteRun, discardInterrupted, pauseRun, resumeInterrupted, resumeRun, stopRun } from './useRuns';
import { RunFileActions } from './RunFileBar';
import { useFocusedRun } from '../study/useFocusedRun';

const STATE_LABEL: Record<RunState, string> = {
  queued: 'queued',
  loading: 'building model',
  training: 'training',
  paused: 'paused',
  done: 'done',
  stopped: 'stopped',
  diverged: 'diverged',
  failed: 'failed',
};

/** What a person can do about a failed run, from its error message. */
export function failureAdvice(error: string | undefined): string {
  const e = (error ?? '').toLowerCase();
  if (/out of memory|outofmemory|allocation/.test(e)) {
    return 'The GPU ran out of memory: lower the batch size, target fewer layers or use a smaller model, then queue the run again.';
  }
  if (/device (was )?lost|lost the device|device lost/.test(e)) {
    return 'The GPU device was lost (a driver reset or another tab using the GPU): reload the page; finished runs are kept.';
  }
  if (/load a model|load a data set/.test(e)) return 'Load a model and a data set above, then queue the run again.';
  if (/steps|batch|accumulation|learning rate|rank|must be|positive integer/.test(e)) {
    return 'A setting is out of range: fix the value named above in the method panel, then queue the run again.';
  }
  return 'Check the settings named in the message, then queue the run again; if it repeats, reload the page (finished runs are kept).';
}

export function RunList({ runs }: { runs: RunView[] }) {
  if (!runs.length) {
    return (
      <p className="muted" data-testid="runs-empty">
        No runs yet. Queue one below, or import a run file; finished runs are saved in this browser and come back when you reload.
      </p>
    );
  }
  return (
    <ul className="run-list" data-testid="run-list">
      {runs.map((run) => (
        <RunRow key={run.spec.id} run={run} />
      ))}
    </ul>
  );
}

function RunRow({ run }: { run: RunView }) {
  const id = run.spec.id;
  // A study's point or row "opens" its runs: outlined here and scrolled into view.
  const focus = useFocusedRun<HTMLLIElement>(id);
  const steps = run.spec.train.steps ?? TRAIN_DEFAULTS.steps;
  const step = run.result?.steps ?? run.train[run.train.length - 1]?.step ?? 0;
  const lastTrain = run.train[run.train.length - 1];
  const lastEval = run.evals[run.evals.length - 1];
  const finished = FINISHED.has(run.state);
  const interrupted = isInterrupted(run);
  const active = !interrupted && (run.state === 'training' || run.state === 'paused');
  return (
    <li
      ref={focus.ref}
      className={focus.focused ? 'run run-focused' : 'run'}
      data-testid="run"
      data-run-id={id}
      data-state={run.state}
      data-focused={focus.focused || undefined}
      style={{ borderLeftColor: run.color }}
    >
      <div className="run-head">
        <span className="swatch" style={{ background: run.color }} aria-hidden="true" />
        <strong className="run-name" data-testid="run-name">
          {run.spec.name}
        </strong>
        {interrupted ? (
          <span className="tag run-state run-state-paused" data-testid="run-state" data-interrupted-step={run.checkpointStep ?? 0}>
            interrupted at step {run.checkpointStep ?? 0}
          </span>
        ) : (
          <span className={`tag run-state run-state-${run.state}`} data-testid="run-state">
            {STATE_LABEL[run.state]}
          </span>
        )}
        {run.imported && (
          <span className="tag tag-imported" data-testid="run-imported" title={`Imported from ${run.imported.file}; trained elsewhere`}>
            imported
          </span>
        )}
        {run.restored && !run.imported && !interrupted && (
          <span className="tag tag-saved" title="Restored from this browser's saved runs">
            saved
          </span>
        )}
        <span className="run-actions">
          {interrupted && (
            <>
              <button
                type="button"
                onClick={() => void resumeInterrupted(id)}
                data-testid="run-resume-interrupted"
                title="Continue from the last checkpoint (with the runs queued after it); load the same model and data set first"
              >
                Resume
              </button>
              <button type="button" onClick={() => void discardInterrupted(id)} data-testid="run-discard" title="Forget this run and its checkpoint">
                Discard
              </button>
            </>
          )}
          {!interrupted && run.state === 'training' && (
            <button type="button" onClick={() => pauseRun(id)} data-testid="run-pause">
              Pause
            </button>
          )}
          {!interrupted && run.state === 'paused' && (
            <button type="button" onClick={() => resumeRun(id)} data-testid="run-resume">
              Resume
            </button>
          )}
          {!finished && !run.restored && (
            <button type="button" onClick={() => stopRun(id)} data-testid="run-stop" title="Stop now; a started run still evaluates and keeps its results">
              Stop
            </button>
          )}
          {(finished || (run.restored && !interrupted)) && (
            <button type="button" onClick={() => void deleteRun(id)} data-testid="run-delete" title="Remove this run from the page and from saved runs">
              Delete
            </button>
          )}
        </span>
      </div>
      <div className="run-detail muted">
        {METHODS[run.spec.method].summary}{' '}
        {run.trainableParams !== undefined && <>Trains {run.trainableParams.toLocaleString('en-US')} values. </>}
        {steps} steps, batch {run.spec.train.batchSize ?? TRAIN_DEFAULTS.batchSize}
        {run.model && <>, model {run.model}</>}
        {run.dataset && <>, data {run.dataset}</>}.
      </div>
      {(active || step > 0) && (
        <div className="run-progress">
          <progress max={steps} value={step} aria-label={`${run.spec.name} progress`} />
          <span data-testid="run-step">
            step {step} / {steps}
          </span>
          {lastTrain && <span>loss {formatNumber(lastTrain.loss)}</span>}
          {lastEval && <span>val accuracy {formatPercent(lastEval.val_accuracy)}</span>}
        </div>
      )}
      {steps === 0 && lastEval && (
        <div className="run-progress" data-testid="run-zeroshot-accuracy">
          <span>No training: val accuracy {formatPercent(lastEval.val_accuracy)} (the reference line in the accuracy chart)</span>
        </div>
      )}
      {run.exports && <ExportLinks run={run} />}
      {interrupted && (
        <div className="notice" data-testid="run-interrupted">
          <p>
            A reload or a closed tab stopped this run{run.checkpointStep ? ` after step ${run.checkpointStep}, where its last checkpoint was saved` : ' before its first checkpoint'}.
            Resume continues it {run.checkpointStep ? 'from there' : 'from the start'} (and the runs queued after it) once the same model and data set are loaded; Discard forgets it.
          </p>
        </div>
      )}
      {run.notices?.length ? (
        <ul className="run-log" data-testid="run-log">
          {run.notices.map((n, i) => (
            <li key={i} className={n.level === 'warning' ? 'notice notice-error' : 'notice'} data-level={n.level}>
              {n.message}
            </li>
          ))}
        </ul>
      ) : null}
      {run.state === 'diverged' && (
        <div className="notice notice-error" role="alert" data-testid="run-error">
          <p>
            <strong>This run diverged:</strong> {run.error}
          </p>
        </div>
      )}
      <RunFileActions run={run} />
      {run.state === 'failed' && (
        <div className="notice notice-error" role="alert" data-testid="run-error">
          <p>
            <strong>This run failed:</strong> {run.error ?? 'no message was given.'}
          </p>
          <p>{failureAdvice(run.error)}</p>
        </div>
      )}
    </li>
  );
}

/** Offers a finished run's files as downloads: PEFT's adapter folder and the merged HF checkpoint, zipped. */
/** What the adapter download holds, as the method's config.ts says. */
function exportTooltip(method: RunView['spec']['method']): string | undefined {
  const ex = METHODS[method].export;
  return ex.kind === 'none' ? undefined : ex.tooltip;
}

function ExportLinks({ run }: { run: RunView }) {
  const files = run.exports!;
  const base = run.spec.name.replace(/[^A-Za-z0-9._-]+/g, '-').toLowerCase();
  const download = (bytes: Uint8Array, name: string) => {
    const url = URL.createObjectURL(new Blob([bytes.slice().buffer], { type: 'application/zip' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return (
    <div className="run-exports" data-testid="run-exports">
      <span className="muted">Export:</span>
      {files.adapter && (
        <button
          type="button"
          data-testid="export-adapter"
          onClick={() => download(files.adapter!, `${base}-adapter.zip`)}
          title={exportTooltip(run.spec.method)}
        >
          Adapter ({formatBytes(files.adapter.byteLength)})
        </button>
      )}
      {files.merged && (
        <button
          type="button"
          data-testid="export-merged"
          onClick={() => download(files.merged!, `${base}-merged.zip`)}
          title="config.json + model.safetensors with W + ΔW and the trained head, for transformers' from_pretrained"
        >
          Merged model ({formatBytes(files.merged.byteLength)})
        </button>
      )}
      {files.note && <span className="muted">{files.note}</span>}
    </div>
  );
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(n / 1024))} KB`;
}
