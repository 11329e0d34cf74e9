import { useMemo } from 'react';
import { useRunStore } from '../state/runStore';
import { cellsLeft, progressCounts, studyProgress } from './pageStudy';
import { useStudyStore } from './studyStore';

/** The study section's one-line summary: none yet, or how far the current study is. */
export function StudySummary() {
  const study = useStudyStore((s) => s.study);
  const order = useRunStore((s) => s.order);
  const byId = useRunStore((s) => s.runs);
  const progress = useMemo(() => (study ? studyProgress(study, order.map((id) => byId[id])) : []), [study, order, byId]);
  if (!study) return <>methods × budgets × seeds, with error bars</>;
  const c = progressCounts(progress);
  const left = cellsLeft(progress).length;
  return (
    <>
      {c.done + c.diverged} of {c.total} runs done{left ? `, ${left} to continue` : ''}
    </>
  );
}
