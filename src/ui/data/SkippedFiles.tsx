import type { DatasetInfo } from '../../session/protocol';

/** Files (or rows) that could not be used, each with its reason; the rest of the set loaded. */
export function SkippedFiles({ skipped }: { skipped: DatasetInfo['skipped'] }) {
  if (skipped.length === 0) return null;
  const shown = skipped.slice(0, 200);
  return (
    <div className="notice notice-warn" data-testid="skipped-files">
      <details open={skipped.length <= 10}>
        <summary>
          {skipped.length === 1 ? '1 file was' : `${skipped.length.toLocaleString('en-US')} files were`} left out; everything else loaded.
        </summary>
        <ul className="skipped-list">
          {shown.map((s, i) => (
            <li key={i} data-testid="skipped-file" data-file={s.file}>
              <code>{s.file}</code>: {s.reason}
            </li>
          ))}
          {skipped.length > shown.length && <li>… and {skipped.length - shown.length} more.</li>}
        </ul>
      </details>
    </div>
  );
}
