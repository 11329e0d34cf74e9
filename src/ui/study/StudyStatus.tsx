import { useMemo, useState } from 'react';
import { useLabDevice } from '../lab';
import { formatInt } from '../model/format';
import { useDataStore } from '../state/dataStore';
import { useModelStore } from '../state/modelStore';
import { useRunStore } from '../state/runStore';
import { cellsLeft, methodLabel, progressCounts, studyProgress } from './pageStudy';
import { continueStudy, mismatch } from './startStudy';
import { useStudyStore } from './studyStore';

/** The current study's progress, and "Continue study" when cells are left (after a reload, a failure or a stop). */
export function StudyStatus() {
  const study = useStudyStore((s) => s.study);
  const order = useRunStore((s) => s.order);
  const byId = useRunStore((s) => s.runs);
  const model = useModelStore((s) => s.info);
  const data = useDataStore((s) => s.info);
  const device = useLabDevice();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const progress = useMemo(() => (study ? studyProgress(study, order.map((id) => byId[id])) : []), [study, order, byId]);
  if (!study) return null;
  const counts = progressCounts(progress);
  const left = cellsLeft(progress).length;
  const wrong = model && data ? mismatch(study) : undefined;
  const ready = device.isSuccess && !!model && !!data && !wrong;
  const cont = async () => {
    setError(undefined);
    setBusy(true);
    try {
      await continueStudy(study);
    } catch (e) {
      setError(`The rest of the study could not be queued: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="study-status notice" data-testid="study-status" data-done={counts.done + counts.diverged} data-left={left} data-total={counts.total}>
      <p>
        <strong>Current study:</strong> {study.spec.methods.map(methodLabel).join(', ')} at {study.spec.budgets.map(formatInt).join(', ')} values, seeds{' '}
        {study.spec.seeds.join(', ')}. {counts.done + counts.diverged} of {counts.total} runs done
        {counts.diverged ? ` (${counts.diverged} diverged)` : ''}
        {counts.running + counts.queued ? `, ${counts.running + counts.queued} queued or training` : ''}
        {counts.failed ? `, ${counts.failed} failed` : ''}
        {counts.unreachable ? `; ${counts.unreachable} with a budget out of their method's reach (run at its nearest setting)` : ''}.
      </p>
      {left > 0 && (
        <button type="button" onClick={() => void cont()} disabled={!ready || busy} data-testid="study-continue">
          Continue study ({left} run{left === 1 ? '' : 's'} left)
        </button>
      )}
      {left > 0 && !ready && <span className="muted"> {wrong ?? 'Load the model and data set (and wait for the GPU) to continue.'}</span>}
      {error && (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
