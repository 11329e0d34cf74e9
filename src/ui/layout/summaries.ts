/**
 * The one-line summaries the setup column shows for a closed section: what is loaded or chosen,
 * in the fewest words that still tell two setups apart ("LoRA r=8 · q,v"). Pure functions of the
 * stores' values, so they are tested without a page.
 */
import { METHODS, type MethodId } from '../../methods/registry';
import type { DatasetInfo, ModelInfo } from '../../session/protocol';
import type { TrainSettings } from '../state/methodStore';
import { formatCount } from '../model/format';
import { formatLr } from '../runs/specs';

/**
 * The last part of a path or URL ("…/models/rankscope-vit-fmnist5/" → "rankscope-vit-fmnist5"),
 * keeping a trailing note in parentheses ("…/fashion-mnist/ (train)" → "fashion-mnist (train)").
 */
export function shortName(source: string): string {
  const m = /^(.*?)(\s+\([^()]*\))?$/.exec(source.trim())!;
  const base = m[1].replace(/[\\/]+$/, '').split(/[\\/]/).pop() || m[1];
  return `${base}${m[2] ?? ''}`;
}

export function modelSummary(info: ModelInfo | undefined, status?: string): string {
  if (!info) return status === 'loading' || status === 'waiting' ? 'loading…' : 'no model loaded';
  return `${shortName(info.source)} · ${formatCount(info.parameters)} params`;
}

export function dataSummary(info: DatasetInfo | undefined, loading = false): string {
  if (!info) return loading ? 'loading…' : 'no data set loaded';
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return `${shortName(info.source)} · ${info.classNames.length} classes · ${sum(info.trainCounts)} train / ${sum(info.valCounts)} val`;
}

/** Short names of target module kinds: query → q, attention.output.dense → o, intermediate.dense → fc1. */
const SHORT_TARGET: Record<string, string> = {
  query: 'q',
  key: 'k',
  value: 'v',
  'attention.output.dense': 'o',
  'intermediate.dense': 'fc1',
  'output.dense': 'fc2',
  q_proj: 'q',
  k_proj: 'k',
  v_proj: 'v',
  out_proj: 'o',
};

export function shortTargets(targets: readonly string[]): string {
  return targets.map((t) => SHORT_TARGET[t] ?? t.split('.').pop() ?? t).join(',');
}

function shortValue(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
  if (typeof v === 'string') return v;
  return undefined;
}

/**
 * "LoRA r=8 · q,v": the method, its numeric and text settings (booleans only when on), and the
 * targeted kinds when the method uses targets. At most `maxSettings` settings, in the method's
 * own order.
 */
export function methodSummary(method: MethodId, config: Record<string, unknown>, targets: readonly string[], maxSettings = 3): string {
  const def = METHODS[method];
  const parts: string[] = [];
  for (const key of Object.keys(def.defaults as Record<string, unknown>)) {
    const v = config[key];
    if (v === true) parts.push(key);
    else {
      const s = shortValue(v);
      if (s !== undefined) parts.push(`${key}=${s}`);
    }
    if (parts.length >= maxSettings) break;
  }
  const head = [def.label, ...parts].join(' ');
  return def.usesTargets && targets.length ? `${head} · ${shortTargets(targets)}` : head;
}

export function trainingSummary(train: TrainSettings): string {
  return `${train.steps} steps · batch ${train.batchSize} · lr ${formatLr(train.lr)} · seed ${train.seed}`;
}
