/**
 * The settings a person edits in the method panel: for each method its hyperparameters (keys of
 * METHODS[id].defaults) and the training settings (keys of TRAIN_DEFAULTS), each with a label,
 * one sentence on what it does, and the values it accepts. The same specs validate values read
 * from a shared link.
 */
import type { MethodId } from '../../adapters';
import type { TrainSettings } from '../state/methodStore';

export interface FieldSpec {
  key: string;
  label: string;
  help: string;
  kind: 'int' | 'float' | 'bool' | 'choice';
  min?: number;
  /** The value must be above `min`, not equal to it. */
  above?: boolean;
  max?: number;
  /** The value must be below `max`, not equal to it. */
  below?: boolean;
  choices?: Array<{ value: string; label: string }>;
}

export const METHOD_FIELDS: Record<MethodId, FieldSpec[]> = {
  lora: [
    { key: 'r', label: 'LoRA r (rank)', help: 'Rank of the update B·A: each layer can change along at most r directions; trainable values grow as r·(in + out).', kind: 'int', min: 1 },
    { key: 'alpha', label: 'alpha', help: 'Scales the update by alpha / r (alpha / √r with rsLoRA).', kind: 'float', min: 0, above: true },
    { key: 'rslora', label: 'rsLoRA', help: 'Rank-stabilised scaling alpha / √r, which keeps the update’s size steady as r grows.', kind: 'bool' },
  ],
  randlora: [
    {
      key: 'r',
      label: 'RandLoRA r (basis rank)',
      help: 'Rank of each frozen random basis; a layer with min(in, out) = m uses ⌈m / r⌉ bases, so the update is full rank whatever r is. A smaller r means more bases and more trainable values.',
      kind: 'int',
      min: 1,
    },
    { key: 'alpha', label: 'alpha', help: 'Scales the update by alpha / r (PEFT’s default 640 with r = 32 is a factor of 20).', kind: 'float', min: 0, above: true },
  ],
  nola: [
    { key: 'rank', label: 'NOLA rank', help: 'Rank of the mixed LoRA factors A and B: the update reaches rank ≤ rank per layer.', kind: 'int', min: 1 },
    { key: 'ka', label: 'ka (bases for A)', help: 'How many frozen random matrices are mixed into A; each is one trainable coefficient per layer.', kind: 'int', min: 1 },
    { key: 'kb', label: 'kb (bases for B)', help: 'How many frozen random matrices are mixed into B; each is one trainable coefficient per layer.', kind: 'int', min: 1 },
    { key: 'c', label: 'c (scale)', help: 'Scales the update by c / rank.', kind: 'float', min: 0, above: true },
    {
      key: 'init',
      label: 'Start',
      help: 'Where the coefficients start: β = 0 begins at the pretrained model like the other methods; NOLA’s code starts at α = 1/ka, β = 1/kb, a tiny non-zero update.',
      kind: 'choice',
      choices: [
        { value: 'zero-beta', label: 'β = 0 (pretrained model)' },
        { value: 'nola', label: 'α = 1/ka, β = 1/kb (NOLA’s code)' },
      ],
    },
  ],
  vera: [
    {
      key: 'r',
      label: 'VeRA r',
      help: 'Rank of the shared frozen random matrices: the update reaches rank ≤ r per layer, while trainable values stay at out + r per layer.',
      kind: 'int',
      min: 1,
    },
    { key: 'dInitial', label: 'd_initial', help: 'Starting value of the trainable scaling λ_d (PEFT’s default 0.1); λ_b starts at 0.', kind: 'float' },
  ],
  full: [],
  probe: [],
};

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
