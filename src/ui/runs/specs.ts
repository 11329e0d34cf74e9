/**
 * Turning what a person set up (method panel, model, data) into RunSpecs for the lab's queue, and
 * the one-click comparison of LoRA, RandLoRA and full fine-tuning under matched settings.
 */
import { COMPARISON_METHODS, METHODS, type MethodId } from '../../methods/registry';
import { matchesTarget } from '../../models/names';
import type { Augmentation } from '../../engine/ops/preprocess';
import type { ModelInfo } from '../../session/protocol';
import type { RunSpec } from '../../session/run';
import { TRAIN_DEFAULTS, type TrainConfig } from '../../train/trainer';
import { effectiveTargets } from '../state/methodStore';

export type TrainSettings = Omit<TrainConfig, 'method' | 'targets'>;

/** What the method panel holds (methodStore's fields). */
export interface MethodSettings {
  method: MethodId;
  configs: Record<MethodId, Record<string, unknown>>;
  targets: string[] | undefined;
  train: TrainSettings;
}

let counter = 0;

/** Unique across reloads too, since finished runs are archived under their id. */
export function newRunId(): string {
  counter++;
  return `run-${Date.now().toString(36)}-${counter.toString(36)}-${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
}

/** The linear layers a method with these targets adapts (what the rank chart can track). */
export function targetedLayers(model: Pick<ModelInfo, 'linearLayers'>, targets: readonly string[]): ModelInfo['linearLayers'] {
  return model.linearLayers.filter((l) => matchesTarget(l.module, targets));
}

/** A spectrum about twenty times per run: live enough to watch, cheap enough on big layers. */
export function defaultRankEvery(steps: number): number {
  return Math.max(1, Math.round(steps / 20));
}

export function formatLr(lr: number): string {
  if (!(lr > 0)) return String(lr);
  const exp = Math.floor(Math.log10(lr));
  const mant = lr / 10 ** exp;
  return Math.abs(mant - Math.round(mant)) < 1e-9 ? `${Math.round(mant)}e${exp}` : lr.toPrecision(2);
}

/** A short name that tells runs apart in a legend: method, its rank where it has one, learning rate. */
export function runName(method: MethodId, config: Record<string, unknown>, lr: number): string {
  const m = METHODS[method];
  const own = m.runName({ ...m.defaults, ...config });
  return `${m.label}${own ? ` ${own}` : ''} · lr ${formatLr(lr)}`;
}

interface SpecOptions {
  model: Pick<ModelInfo, 'defaultTargets' | 'allTargets' | 'linearLayers'>;
  /** The layer whose ΔW spectrum the rank chart follows; the first targeted layer when unset. */
  rankLayer?: string;
  /** The data panel's training-time augmentation (random resized crop, flip), if any is on. */
  augment?: Augmentation;
}

/** One run from the method panel's current settings. */
export function specFromSettings(s: MethodSettings, opts: SpecOptions): RunSpec {
  // As the method panel estimates it: the person's targets that this model has, else its defaults.
  const targets = effectiveTargets(s.targets, opts.model as ModelInfo);
  const config = { ...METHODS[s.method].defaults, ...s.configs[s.method] };
  const train: TrainSettings = { ...TRAIN_DEFAULTS, ...s.train };
  // Enough loss points for a live curve on short runs (each logged step is one GPU readback).
  train.logEvery = Math.max(1, Math.min(train.logEvery, Math.round(train.steps / 40)));
  if (opts.augment) train.augment = opts.augment;
  else delete train.augment;
  const headNote = train.head === 'zeroshot' ? ' · zero-shot head' : train.head === 'zeroshot-init' ? ' · zero-shot init' : '';
  return {
    id: newRunId(),
    name: runName(s.method, config, train.lr) + headNote,
    method: s.method,
    methodConfig: config,
    targets,
    train,
    rankLayer: opts.rankLayer ?? targetedLayers(opts.model, targets)[0]?.module,
    rankEvery: defaultRankEvery(train.steps),
  };
}

/** `name`, or `name (2)`, `name (3)` … so that runs stay apart in legends. */
export function uniqueName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name;
  for (let k = 2; ; k++) if (!taken.has(`${name} (${k})`)) return `${name} (${k})`;
}

/** The methods of the comparison (those whose config.ts gives a comparison learning rate), in queue order. */
export { COMPARISON_METHODS } from '../../methods/registry';
export type ComparisonMethod = MethodId;

/**
 * Peak learning rates for the comparison. LoRA and RandLoRA start from a zero update and train
 * few parameters, so they take the larger steps adapter papers and PEFT's image-classification
 * examples use (1e-3 … 1e-2); full fine-tuning moves every pretrained weight, so it takes a ten
 * times smaller step (1e-4 … 1e-3) to keep what the backbone learned.
 */
export const COMPARISON_LR = Object.fromEntries(
  COMPARISON_METHODS.map((id) => [id, METHODS[id].comparisonLr ?? TRAIN_DEFAULTS.lr]),
) as Partial<Record<ComparisonMethod, number>>;

export const COMPARISON_LR_REASON =
  'LoRA and RandLoRA start from a zero update and train few values, so they use a larger step (5e-3); full fine-tuning moves every pretrained weight, so it uses a ten times smaller one (5e-4) to keep what the backbone learned.';

/**
 * LoRA vs RandLoRA vs full fine-tuning with matched settings: the same steps, batch, seed, warmup
 * and cosine schedule, the same augmentation, the same target layers (full fine-tuning's spectrum is taken on the same
 * layer), each method's own defaults, and a learning rate per method.
 */
export function comparisonSpecs(
  s: Pick<MethodSettings, 'configs' | 'targets' | 'train'>,
  opts: SpecOptions & { methods?: readonly ComparisonMethod[]; lr?: Partial<Record<ComparisonMethod, number>> },
): RunSpec[] {
  const methods = opts.methods ?? COMPARISON_METHODS;
  return methods.map((method) => {
    const lr = opts.lr?.[method] ?? COMPARISON_LR[method] ?? TRAIN_DEFAULTS.lr;
    return specFromSettings({ ...s, method, train: { ...s.train, lr, headLr: undefined } }, opts);
  });
}
