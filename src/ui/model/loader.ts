/**
 * Starts model loads in the lab worker and mirrors them into the model store: progress per file,
 * the result, or an error the panel can explain. Anyone may ask for a model (the model panel, a
 * shared link, the offline demo); a request made before the worker's GPU is ready waits in the
 * store and starts as soon as the model panel reports the GPU ready.
 */
import type { LoadProgressEvent, ModelRequest } from '../../session/protocol';
import { getLab, proxied } from '../lab';
import { originOf, useModelStore, type FileProgress } from '../state/modelStore';
import { describeModelError } from './errors';

let labReady = false;
/** Each load gets a number; results of a load that was superseded are dropped. */
let generation = 0;

/** Called by the model panel once the lab's GPU is ready; starts a load that was waiting for it. */
export function markLabReady(): void {
  labReady = true;
  const pending = useModelStore.getState().pending;
  if (pending) {
    useModelStore.setState({ pending: undefined });
    void startLoad(pending);
  }
}

/** Loads a model now, or as soon as the GPU is ready. A newer request replaces one in progress. */
export function requestModel(req: ModelRequest): void {
  if (!labReady) {
    generation++;
    useModelStore.setState({ pending: req, status: 'waiting', current: originOf(req), progress: [], error: undefined });
    return;
  }
  void startLoad(req);
}

/**
 * Loads a Hugging Face-layout folder the app serves (config.json, model.safetensors,
 * preprocessor_config.json), e.g. a demo model under public/: `loadServedModel('demo/model/')`.
 * Relative paths resolve against the page, so they work under any base path.
 */
export function loadServedModel(base: string): void {
  const href = new URL(base.endsWith('/') ? base : `${base}/`, document.baseURI).href;
  requestModel({ kind: 'url', base: href });
}

/** Stops the load in progress (or drops one waiting for the GPU); the loaded model, if any, stays. */
export function cancelModelLoad(): void {
  const s = useModelStore.getState();
  if (s.status === 'waiting') {
    generation++;
    useModelStore.setState({
      pending: undefined,
      status: 'cancelled',
      error: describeModelError(Object.assign(new Error('cancelled'), { name: 'AbortError' })),
    });
  } else if (s.status === 'loading') {
    void getLab().cancelLoad();
  }
}

async function startLoad(req: ModelRequest): Promise<void> {
  const gen = ++generation;
  const files = new Map<string, FileProgress>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Progress arrives per chunk: gather it and update the page a few times a second.
  const flush = () => {
    timer = undefined;
    if (gen === generation) useModelStore.setState({ progress: [...files.values()] });
  };
  const onProgress = (p: LoadProgressEvent) => {
    files.set(p.file, { file: p.file, done: p.done, total: p.total });
    timer ??= setTimeout(flush, 100);
  };
  useModelStore.setState({ status: 'loading', current: originOf(req), progress: [], error: undefined, pending: undefined });
  try {
    const info = await getLab().loadModel(req, proxied(onProgress));
    if (gen !== generation) return;
    clearTimeout(timer);
    flush();
    useModelStore.setState((s) => ({
      info,
      loaded: originOf(req),
      status: 'loaded',
      loads: s.loads + 1,
      // A model the person chose replaces a link's offer; the demo loading by itself does not.
      offer: req.kind === 'url' ? s.offer : undefined,
    }));
  } catch (e) {
    if (gen !== generation) return;
    clearTimeout(timer);
    flush();
    const error = describeModelError(e);
    useModelStore.setState((s) => ({ status: error.kind === 'cancelled' ? 'cancelled' : 'failed', error, loads: s.loads + 1 }));
  }
}
