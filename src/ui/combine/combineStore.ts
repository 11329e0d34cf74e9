/**
 * Ensembles and compositions of finished runs, as the page holds them: what was asked (members,
 * settings), progress while the lab works on it, and the outcome. They sit beside the runs (their
 * own kind in the runs list and rows in the comparison table) and are archived like runs.
 */
import { create } from 'zustand';
import type { CombineProgress, EnsembleOutcome } from '../../session/combineTypes';
import type { ComposeOutcome } from '../../session/composeTypes';
import { RUN_COLORS } from '../state/runStore';

export type CombineKind = 'ensemble' | 'compose';
export type CombineState = 'queued' | 'running' | 'done' | 'failed';

export interface CombineView {
  id: string;
  kind: CombineKind;
  name: string;
  color: string;
  createdAt: number;
  state: CombineState;
  progress?: CombineProgress;
  error?: string;
  members: Array<{ runId: string; name: string; color: string }>;
  /** The settings it ran with, for the record (controller or compose settings, k-shot; a composition's head kind). */
  settings: Record<string, number | string | undefined>;
  model?: string;
  dataset?: string;
  ensemble?: EnsembleOutcome;
  compose?: ComposeOutcome;
  /** Restored from this browser's archive after a reload. */
  restored?: boolean;
}

/** The accuracy a combined result shows in the runs list and the comparison table. */
export function combinedAccuracy(v: CombineView): number | undefined {
  return v.ensemble?.accuracy ?? v.compose?.finalValAccuracy;
}

interface CombineStore {
  items: Record<string, CombineView>;
  order: string[];
  add(view: CombineView): void;
  update(id: string, patch: Partial<CombineView>): void;
  remove(id: string): void;
  restore(views: CombineView[]): void;
}

export const useCombineStore = create<CombineStore>((set) => ({
  items: {},
  order: [],
  add: (view) => set((s) => ({ items: { ...s.items, [view.id]: view }, order: [...s.order.filter((x) => x !== view.id), view.id] })),
  update: (id, patch) =>
    set((s) => {
      const v = s.items[id];
      return v ? { items: { ...s.items, [id]: { ...v, ...patch } } } : s;
    }),
  remove: (id) =>
    set((s) => {
      const items = { ...s.items };
      delete items[id];
      return { items, order: s.order.filter((x) => x !== id) };
    }),
  restore: (views) =>
    set((s) => {
      const fresh = views.filter((v) => !s.items[v.id]).sort((a, b) => a.createdAt - b.createdAt);
      if (!fresh.length) return s;
      const items = { ...s.items };
      for (const v of fresh) items[v.id] = { ...v, restored: true };
      return { items, order: [...fresh.map((v) => v.id), ...s.order] };
    }),
}));

/** A colour for a new combined result: the palette's, from the end, so it reads apart from the runs'. */
export function combineColor(count: number): string {
  return RUN_COLORS[RUN_COLORS.length - 1 - (count % RUN_COLORS.length)];
}
