/**
 * The configuration lives in the page's query string, so a link reproduces it:
 *
 *   ?model=WinKawaks/vit-tiny-patch16-224&method=randlora&randlora.r=16&targets=query,value&steps=200&lr=0.0005
 *
 * `model` is a Hub model id (offered, not downloaded unasked), `method` the selected method,
 * `<method>.<setting>` any method setting that differs from its default (every method's, so the
 * comparison table is reproduced too), `targets` the chosen target module kinds (absent: the
 * model's defaults), and the training settings by their TrainConfig names where they differ from
 * the defaults. Parameters this module does not manage are left as they are, so other panels can
 * keep their own settings in the same query string.
 */
import { create } from 'zustand';
import { DEFAULT_METHOD, METHODS, type MethodId } from '../methods/registry';
import { TRAIN_DEFAULTS } from '../train/trainer';
import { METHOD_FIELDS, TRAIN_FIELDS, formatField, parseField, type FieldSpec } from './method/fields';
import { METHOD_IDS, defaultConfigs, useMethodStore, type TrainSettings } from './state/methodStore';
import { useModelStore } from './state/modelStore';

export interface SharedConfig {
  model?: string;
  method: MethodId;
  configs: Record<MethodId, Record<string, unknown>>;
  targets?: string[];
  train: TrainSettings;
}

const TRAIN_KEYS = new Set<string>(TRAIN_FIELDS.map((f) => f.key));
const TARGET = /^[A-Za-z0-9_.]+$/;
const MODEL_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

function isManaged(key: string): boolean {
  if (key === 'model' || key === 'method' || key === 'targets' || TRAIN_KEYS.has(key)) return true;
  const dot = key.indexOf('.');
  return dot > 0 && (METHOD_IDS as string[]).includes(key.slice(0, dot));
}

function same(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)));
}

/** Writes `config` into a copy of `base`, replacing the keys this module manages and keeping the others. */
export function toSearchParams(config: SharedConfig, base: URLSearchParams = new URLSearchParams()): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of base) if (!isManaged(k)) out.append(k, v);
  if (config.model) out.set('model', config.model);
  out.set('method', config.method);
  for (const id of METHOD_IDS) {
    const defaults = METHODS[id].defaults as Record<string, unknown>;
    for (const f of METHOD_FIELDS[id]) {
      const v = config.configs[id]?.[f.key];
      if (v !== undefined && !same(v, defaults[f.key])) out.set(`${id}.${f.key}`, formatField(f, v));
    }
  }
  if (config.targets) out.set('targets', config.targets.join(','));
  for (const f of TRAIN_FIELDS) {
    const v = config.train[f.key];
    if (v !== undefined && !same(v, TRAIN_DEFAULTS[f.key])) out.set(f.key, formatField(f, v));
  }
  return out;
}

/** Reads a shared configuration; what cannot be used is listed in `ignored` with the reason. */
export function fromSearchParams(params: URLSearchParams): { config: SharedConfig; ignored: string[]; found: boolean } {
  const config: SharedConfig = { method: DEFAULT_METHOD, configs: defaultConfigs(), train: { ...TRAIN_DEFAULTS } };
  const ignored: string[] = [];
  let found = false;
  const read = (spec: FieldSpec, key: string, raw: string): unknown => {
    const r = parseField(spec, raw);
    if ('error' in r) {
      ignored.push(`${key}=${raw}: ${r.error}`);
      return undefined;
    }
    return r.value;
  };
  for (const [key, raw] of params) {
    if (!isManaged(key)) continue;
    found = true;
    if (key === 'model') {
      if (MODEL_ID.test(raw.trim()) && !raw.includes('..')) config.model = raw.trim();
      else ignored.push(`model=${raw}: not a Hugging Face model id (owner/name).`);
    } else if (key === 'method') {
      if ((METHOD_IDS as string[]).includes(raw)) config.method = raw as MethodId;
      else ignored.push(`method=${raw}: not a method; use one of ${METHOD_IDS.join(', ')}.`);
    } else if (key === 'targets') {
      const list = raw.split(',').map((t) => t.trim()).filter(Boolean);
      const bad = list.filter((t) => !TARGET.test(t));
      if (bad.length) ignored.push(`targets=${raw}: ${bad.join(', ')} ${bad.length === 1 ? 'is not a module name' : 'are not module names'}.`);
      else config.targets = list;
    } else if (TRAIN_KEYS.has(key)) {
      const spec = TRAIN_FIELDS.find((f) => f.key === key)!;
      const v = read(spec, key, raw);
      if (v !== undefined) (config.train as unknown as Record<string, unknown>)[key] = v;
    } else {
      const dot = key.indexOf('.');
      const id = key.slice(0, dot) as MethodId;
      const spec = METHOD_FIELDS[id].find((f) => f.key === key.slice(dot + 1));
      if (!spec) {
        ignored.push(`${key}=${raw}: ${METHODS[id].label} has no setting "${key.slice(dot + 1)}".`);
        continue;
      }
      const v = read(spec, key, raw);
      if (v !== undefined) config.configs[id] = { ...config.configs[id], [spec.key]: v };
    }
  }
  return { config, ignored, found };
}

/** What a shared link held that could not be used, shown in the method panel. */
export const useUrlNotice = create<{ ignored: string[]; dismiss(): void }>((set) => ({
  ignored: [],
  dismiss: () => set({ ignored: [] }),
}));

function currentConfig(): SharedConfig {
  const m = useMethodStore.getState();
  const model = useModelStore.getState();
  const hubId = model.loaded?.kind === 'hub' ? model.loaded.id : undefined;
  return { model: hubId ?? model.offer, method: m.method, configs: m.configs, targets: m.targets, train: m.train };
}

/** The query string with '/' and ',' left as they are (both are allowed there), so model ids and target lists read plainly. */
export function readable(params: URLSearchParams): string {
  return params.toString().replace(/%2F/gi, '/').replace(/%2C/gi, ',');
}

let installed = false;

/**
 * Restores the stores from the page's query string (once, before the first render), then keeps
 * the query string in step with them. Safe to call more than once.
 */
export function installUrlState(): void {
  if (installed || typeof window === 'undefined') return;
  installed = true;
  const { config, ignored, found } = fromSearchParams(new URLSearchParams(window.location.search));
  if (found) {
    useMethodStore.setState({ method: config.method, configs: config.configs, targets: config.targets, train: config.train });
    if (config.model) useModelStore.setState({ offer: config.model });
  }
  if (ignored.length) useUrlNotice.setState({ ignored });

  let timer: ReturnType<typeof setTimeout> | undefined;
  const write = () => {
    timer = undefined;
    const search = readable(toSearchParams(currentConfig(), new URLSearchParams(window.location.search)));
    if (search === window.location.search.replace(/^\?/, '')) return;
    const url = `${window.location.pathname}${search ? `?${search}` : ''}${window.location.hash}`;
    window.history.replaceState(window.history.state, '', url);
  };
  const schedule = () => {
    timer ??= setTimeout(write, 150);
  };
  useMethodStore.subscribe(schedule);
  useModelStore.subscribe((s, prev) => {
    if (s.offer !== prev.offer || s.loaded !== prev.loaded) schedule();
  });
}
