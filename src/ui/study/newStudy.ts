/**
 * From what a person typed in the study setup to a planned PageStudy: the lists parsed (with a
 * message naming the field when one does not read), the model's targeted layers and its head
 * counted, and src/study's plan for the cells.
 */
import type { Augmentation } from '../../engine/ops/preprocess';
import type { ModelInfo, RunEstimate } from '../../session/protocol';
import { planStudy } from '../../study/plan';
import type { StudySpec } from '../../study/types';
import { targetedLayers, type TrainSettings } from '../runs/specs';
import type { PageStudy } from './pageStudy';

/** "2000, 6000 20000" → [2000, 6000, 20000]; k suffixes read as thousands ("6k"). */
export function parseNumberList(text: string, field: string, { min = 0, integer = true } = {}): number[] {
  const parts = text
    .split(/[\s,;]+/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) throw new Error(`${field}: give at least one number (e.g. 2000, 6000).`);
  const out: number[] = [];
  for (const p of parts) {
    const m = /^(\d+(?:\.\d+)?)(k?)$/i.exec(p.replace(/_/g, ''));
    const v = m ? Number(m[1]) * (m[2] ? 1000 : 1) : NaN;
    if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
      throw new Error(`${field}: "${p}" is not ${integer ? 'a whole number' : 'a number'} of at least ${min}.`);
    }
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

/** k-shot values: "all" (or empty) is the whole training split, numbers are images per class. */
export function parseKShots(text: string): Array<number | null> {
  const parts = text
    .split(/[\s,;]+/)
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  if (!parts.length) return [null];
  const out: Array<number | null> = [];
  for (const p of parts) {
    const v = p === 'all' ? null : Number(p);
    if (v !== null && !(Number.isInteger(v) && v >= 1)) throw new Error(`k-shot: "${p}" is neither "all" nor a whole number of images per class (1, 2, 4, 16 …).`);
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

/**
 * The head's and the backbone's trainable counts as the comparison table has them: from the lab's
 * estimate() of the probe (the head alone) and of full fine-tuning (backbone and head).
 */
export function countsFromEstimates(estimates: ReadonlyArray<Pick<RunEstimate, 'method' | 'trainableParams'>> | undefined): { head: number; backbone: number } | undefined {
  const probe = estimates?.find((e) => e.method === 'probe');
  const full = estimates?.find((e) => e.method === 'full');
  if (!probe || !full) return undefined;
  return { head: probe.trainableParams, backbone: full.trainableParams - probe.trainableParams };
}

export interface StudyContext {
  model: Pick<ModelInfo, 'linearLayers' | 'source'>;
  /** Trainable values of the head and of the backbone (countsFromEstimates). */
  counts: { head: number; backbone: number };
  dataset?: string;
  targets: string[];
  train: TrainSettings;
  lr: Record<string, number>;
  rankLayer?: string;
  augment?: Augmentation;
  configs?: Record<string, Record<string, unknown>>;
}

let studies = 0;

export function newStudyId(): string {
  studies++;
  return `study-${Date.now().toString(36)}-${studies.toString(36)}`;
}

/** The planned study: every cell of spec on this model's targeted layers. */
export function planPageStudy(spec: StudySpec, ctx: StudyContext, id = newStudyId()): PageStudy {
  const layers = targetedLayers(ctx.model, ctx.targets);
  if (!layers.length) throw new Error(`None of the model's linear layers match the targets ${ctx.targets.join(', ') || '(none)'}: choose target layers in the method panel.`);
  const cells = planStudy(spec, { layers, head: ctx.counts.head, backbone: ctx.counts.backbone }, ctx.configs);
  return {
    id,
    createdAt: Date.now(),
    spec,
    cells,
    train: { ...ctx.train },
    targets: [...ctx.targets],
    lr: { ...ctx.lr },
    rankLayer: ctx.rankLayer ?? layers[0]?.module,
    augment: ctx.augment,
    headParams: ctx.counts.head,
    model: ctx.model.source,
    dataset: ctx.dataset,
  };
}
