import { create } from 'zustand';
import type { ModelInfo, ModelRequest } from '../../session/protocol';
import type { ModelLoadError } from '../model/errors';

/** Where a model came from, in the words the panel shows (no File objects, so it can be kept). */
export type ModelOrigin = { kind: 'hub'; id: string } | { kind: 'url'; base: string } | { kind: 'files'; name: string; count: number };

export type ModelLoadStatus = 'idle' | 'waiting' | 'loading' | 'loaded' | 'failed' | 'cancelled';

export interface FileProgress {
  file: string;
  done: number;
  total: number | undefined;
}

/** The model loaded into the lab and the load in progress (owned by the model panel; read by the method and run panels). */
interface ModelStore {
  info?: ModelInfo;
  /** Where `info` came from. */
  loaded?: ModelOrigin;
  status: ModelLoadStatus;
  /** The load in progress or the last one tried. */
  current?: ModelOrigin;
  progress: FileProgress[];
  error?: ModelLoadError;
  /** A load asked for before the GPU was ready; the panel starts it once it is. */
  pending?: ModelRequest;
  /** A Hub model id from a shared link, offered to the person rather than downloaded unasked. */
  offer?: string;
  /** Bumped after each finished load, so lists that depend on the cache refresh. */
  loads: number;
  setInfo(info: ModelInfo | undefined): void;
  setOffer(id: string | undefined): void;
}

export const useModelStore = create<ModelStore>((set) => ({
  status: 'idle',
  progress: [],
  loads: 0,
  setInfo: (info) => set({ info }),
  setOffer: (offer) => set({ offer }),
}));

export function originOf(req: ModelRequest): ModelOrigin {
  if (req.kind === 'hub') return { kind: 'hub', id: req.id.trim() };
  if (req.kind === 'url') return { kind: 'url', base: req.base };
  const first = req.files[0] as (File & { webkitRelativePath?: string }) | undefined;
  const rel = first?.webkitRelativePath ?? '';
  const name = rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : req.files.length === 1 ? (first?.name ?? 'file') : 'dropped files';
  return { kind: 'files', name, count: req.files.length };
}

export function describeOrigin(o: ModelOrigin): string {
  if (o.kind === 'hub') return o.id;
  if (o.kind === 'url') return o.base;
  return `${o.name} (${o.count} file${o.count === 1 ? '' : 's'})`;
}
