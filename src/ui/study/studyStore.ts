/**
 * The page's current study, kept in localStorage (it is a small plan; its finished runs are kept
 * with every other finished run in the run archive, tagged with the study's id), so a reload
 * shows what is done and can continue with the rest.
 */
import { create } from 'zustand';
import type { PageStudy } from './pageStudy';

export const STUDY_STORAGE_KEY = 'rankscope-study';

function storage(): Storage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined;
  }
}

/** The saved study, or undefined when there is none or it cannot be read (a damaged entry is dropped). */
export function loadStudy(store = storage()): PageStudy | undefined {
  const text = store?.getItem(STUDY_STORAGE_KEY);
  if (!text) return undefined;
  try {
    const s = JSON.parse(text) as PageStudy;
    if (typeof s?.id === 'string' && Array.isArray(s.cells) && s.spec && s.train) return s;
  } catch {
    // fall through: not a study this page wrote
  }
  store?.removeItem(STUDY_STORAGE_KEY);
  return undefined;
}

export function saveStudy(study: PageStudy | undefined, store = storage()): void {
  if (!store) return;
  if (study) store.setItem(STUDY_STORAGE_KEY, JSON.stringify(study));
  else store.removeItem(STUDY_STORAGE_KEY);
}

interface StudyStore {
  study: PageStudy | undefined;
  /** ε of the intruder test (a top singular vector of W0+ΔW is an intruder when its best |cos| with W0's is below ε). */
  eps: number;
  /** The pair whose paired difference is shown besides RandLoRA − LoRA. */
  pair: [string, string] | undefined;
  setStudy(study: PageStudy | undefined): void;
  setEps(eps: number): void;
  setPair(pair: [string, string] | undefined): void;
}

export const useStudyStore = create<StudyStore>((set) => ({
  study: loadStudy(),
  eps: 0.5,
  pair: undefined,
  setStudy: (study) => {
    saveStudy(study);
    set({ study, pair: undefined });
  },
  setEps: (eps) => set({ eps }),
  setPair: (pair) => set({ pair }),
}));

/**
 * Runs the study's results point at: the runs list highlights them and scrolls the first into view
 * (a point of a chart or a row of a table "opens" its runs this way).
 */
interface RunFocus {
  ids: string[];
  /** Bumped on every focus, so clicking the same point again scrolls again. */
  at: number;
  focus(ids: string[]): void;
}

export const useRunFocus = create<RunFocus>((set) => ({
  ids: [],
  at: 0,
  focus: (ids) => set({ ids, at: Date.now() }),
}));
