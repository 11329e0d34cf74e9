/**
 * The settings a person edits in the method panel: for each method its hyperparameters (its
 * config.ts's `fields`, keys of its defaults) and the training settings (keys of TRAIN_DEFAULTS), each with a label,
 * one sentence on what it does, and the values it accepts. The same specs validate values read
 * from a shared link.
 */
import { METHODS, type FieldSpec, type MethodId } from '../../methods/registry';
import type { TrainSettings } from '../state/methodStore';

export type { FieldSpec } from '../../methods/registry';

/** Each method's settings, as its config.ts declares them. */
export const METHOD_FIELDS = Object.fromEntries(Object.values(METHODS).map((m) => [m.id, m.fields])) as Record<MethodId, readonly FieldSpec[]>;

export const TRAIN_FIELDS: Array<FieldSpec & { key: keyof TrainSettings }> = [
  { key: 'steps', label: 'Steps', help: 'Optimizer updates in the run.', kind: 'int', min: 1 },
  { key: 'batchSize', label: 'Batch size', help: 'Images per step; activation memory grows with it.', kind: 'int', min: 1 },
  { key: 'lr', label: 'Learning rate', help: 'Peak AdamW learning rate, reached after warmup, then decayed on a cosine.', kind: 'float', min: 0, above: true },
  { key: 'weightDecay', label: 'Weight decay', help: 'AdamW’s decoupled decay on weight matrices (not on biases and scalings).', kind: 'float', min: 0 },
  { key: 'warmupSteps', label: 'Warmup steps', help: 'Steps over which the learning rate rises from 0 to its peak.', kind: 'int', min: 0 },
  { key: 'clipNorm', label: 'Gradient clip', help: 'Largest global gradient norm; 0 turns clipping off.', kind: 'float', min: 0 },
  { key: 'labelSmoothing', label: 'Label smoothing', help: 'Share of each target spread evenly over all classes (0 = none).', kind: 'float', min: 0, max: 1, below: true },
  { key: 'seed', label: 'Seed', help: 'Seeds initialisation, random bases and batch order, so a run repeats exactly.', kind: 'int', min: 0 },
  { key: 'evalEvery', label: 'Evaluate every', help: 'Steps between validation passes (there is always one at the end).', kind: 'int', min: 1 },
];

export type FieldValue = number | boolean | string;

/** Reads a typed or linked value; an error says which value was wrong and what is accepted. */
export function parseField(spec: FieldSpec, raw: string): { value: FieldValue } | { error: string } {
  const text = raw.trim();
  if (spec.kind === 'bool') {
    if (/^(1|true|yes|on)$/i.test(text)) return { value: true };
    if (/^(0|false|no|off)$/i.test(text)) return { value: false };
    return { error: `${spec.label} is on or off (1 or 0), not "${raw}".` };
  }
  if (spec.kind === 'choice') {
    const choices = spec.choices ?? [];
    if (choices.some((c) => c.value === text)) return { value: text };
    return { error: `${spec.label} is one of ${choices.map((c) => c.value).join(', ')}, not "${raw}".` };
  }
  const v = text === '' ? NaN : Number(text);
  const whole = spec.kind === 'int';
  const kind = whole ? 'a whole number' : 'a number';
  const { min, max } = spec;
  const want =
    min !== undefined && max !== undefined
      ? `${kind} ${spec.above ? 'above' : 'from'} ${min} ${spec.below ? 'to below' : 'to'} ${max}`
      : min !== undefined
        ? `${kind} ${spec.above ? '>' : '≥'} ${min}`
        : max !== undefined
          ? `${kind} ${spec.below ? '<' : '≤'} ${max}`
          : kind;
  const bad =
    !Number.isFinite(v) ||
    (whole && !Number.isInteger(v)) ||
    (spec.min !== undefined && (spec.above ? v <= spec.min : v < spec.min)) ||
    (spec.max !== undefined && (spec.below ? v >= spec.max : v > spec.max));
  if (bad) return { error: `${spec.label} must be ${want}${text === '' ? '.' : `, not ${text}.`}` };
  return { value: v };
}

/** How a value is written in an input or a link. */
export function formatField(spec: FieldSpec, value: unknown): string {
  if (spec.kind === 'bool') return value ? '1' : '0';
  return String(value ?? '');
}
