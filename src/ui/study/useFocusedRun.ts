import { useEffect, useRef } from 'react';
import { useRunFocus } from './studyStore';

/**
 * For a row of the runs list: whether the study's results pointed at this run, and a ref that
 * scrolls the first run pointed at into view (so "click a point" opens its run).
 */
export function useFocusedRun<T extends HTMLElement>(id: string): { focused: boolean; ref: React.RefObject<T | null> } {
  const ref = useRef<T>(null);
  const focused = useRunFocus((s) => s.ids.includes(id));
  const first = useRunFocus((s) => s.ids[0] === id);
  const at = useRunFocus((s) => s.at);
  useEffect(() => {
    if (first) ref.current?.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }, [first, at]);
  return { focused, ref };
}
