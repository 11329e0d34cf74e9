/**
 * Pure helpers of the head control: the zero-shot run (no training) a person can queue, and the
 * class names a zero-shot head reads. Kept apart from React so they are tested directly.
 */
import type { RunSpec } from '../../session/run';
import { TRAIN_DEFAULTS, type TrainConfig } from '../../train/trainer';
import { fillTemplate } from '../../models/zeroShot';

type Train = Omit<TrainConfig, 'method' | 'targets'>;

/** "Zero-shot" as a run of its own: no training steps, the zero-shot head frozen, evaluated on the validation split. */
export function zeroShotRunSpec(id: string, train: Partial<Train>, targets: string[]): RunSpec {
  const t: Partial<Train> = { ...TRAIN_DEFAULTS, ...train, head: 'zeroshot', steps: 0 };
  delete t.augment;
  const n = t.templates?.length ?? 1;
  return { id, name: `Zero-shot · ${n} template${n === 1 ? '' : 's'}`, method: 'probe', targets, train: t };
}

/** The names the zero-shot head will read: the typed ones where every class has one, else the data set's. */
export function zeroShotClassNames(dataNames: readonly string[], typed: readonly string[] | undefined): string[] {
  return typed && typed.length === dataNames.length && typed.every((n) => n.trim()) ? typed.map((n) => n.trim()) : [...dataNames];
}

/** The first prompts the head will embed, for showing the person what the text tower reads. */
export function samplePrompts(templates: readonly string[], names: readonly string[], count = 3): string[] {
  const out: string[] = [];
  for (const n of names) for (const t of templates) if (out.length < count) out.push(fillTemplate(t, n));
  return out;
}
