import { useRef, useState } from 'react';
import { downloadBlob } from '../download';
import { useRunStore, type RunView } from '../state/runStore';
import { csvFileName, runMetricsCsv } from './metricsCsv';
import { exportable, parseRunFile, RUN_FILE_EXTENSION, runFileJson, runFileName } from './runFile';
import { archiveRun } from './useRuns';

function saveRunFile(views: RunView[]): void {
  downloadBlob(runFileJson(views), runFileName(views), 'application/json');
}

/** Above the run list: every finished run as one run file, and importing run files. */
export function RunFileBar({ runs }: { runs: RunView[] }) {
  const finished = runs.filter(exportable);
  const input = useRef<HTMLInputElement>(null);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string }>();

  const importFiles = async (files: FileList | null) => {
    setMessage(undefined);
    const notes: string[] = [];
    let added = 0;
    for (const file of files ? [...files] : []) {
      try {
        const views = parseRunFile(await file.text(), file.name);
        const known = useRunStore.getState().runs;
        const fresh = views.filter((v) => !known[v.spec.id]);
        if (fresh.length < views.length) notes.push(`${views.length - fresh.length} run${views.length - fresh.length === 1 ? '' : 's'} of ${file.name} ${views.length - fresh.length === 1 ? 'is' : 'are'} already on this page.`);
        useRunStore.getState().addImported(fresh);
        for (const v of fresh) void archiveRun(useRunStore.getState().runs[v.spec.id] ?? v);
        added += fresh.length;
      } catch (e) {
        setMessage({ kind: 'error', text: e instanceof Error ? e.message : String(e) });
        return;
      }
    }
    setMessage({ kind: 'ok', text: [`Imported ${added} run${added === 1 ? '' : 's'}.`, ...notes].join(' ') });
  };

  return (
    <div className="run-file-bar" data-testid="run-file-bar">
      <button type="button" disabled={!finished.length} onClick={() => saveRunFile(finished)} data-testid="export-all-runs" title={`Every finished run in one ${RUN_FILE_EXTENSION} file: settings, metrics, spectra, confusion matrices, environment and fingerprints`}>
        Export all runs
      </button>
      <button type="button" onClick={() => input.current?.click()} data-testid="import-runs" title={`Open ${RUN_FILE_EXTENSION} files exported from Rankscope, here or in another browser`}>
        Import run file…
      </button>
      <input
        ref={input}
        type="file"
        accept=".json,application/json"
        multiple
        hidden
        data-testid="import-runs-input"
        aria-label="Run files to import"
        onChange={(e) => {
          void importFiles(e.target.files);
          e.target.value = '';
        }}
      />
      {message && (
        <p className={`notice ${message.kind === 'error' ? 'notice-error' : 'notice-info'}`} role={message.kind === 'error' ? 'alert' : 'status'} data-testid="import-message">
          {message.text}
        </p>
      )}
    </div>
  );
}

/** A finished run's own files: its metrics as CSV and its run file. */
export function RunFileActions({ run }: { run: RunView }) {
  if (!exportable(run)) return null;
  return (
    <div className="run-exports" data-testid="run-files">
      <span className="muted">Record:</span>
      <button type="button" data-testid="export-csv" onClick={() => downloadBlob(runMetricsCsv(run), csvFileName(run.spec.name), 'text/csv')} title="Every logged training and evaluation step, one row each">
        Metrics CSV
      </button>
      <button type="button" data-testid="export-run-file" onClick={() => saveRunFile([run])} title={`This run alone as a ${RUN_FILE_EXTENSION} file, to import in another browser`}>
        Run file
      </button>
    </div>
  );
}
