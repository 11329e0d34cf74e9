/**
 * Puts a zero-shot head together for a run: the checkpoint's tokenizer (io) turns class names ×
 * templates into ids, CLIP's text tower (models) embeds them once, and the vision model is built
 * with logit_scale × the class embeddings as its head. Used by the worker and the CLI alike.
 */
import type { Checkpoint } from '../io/checkpoint';
import { textTokenizer } from '../io/tokenizer';
import type { TextTowerInfo } from './protocol';
import type { GpuContext } from '../gpu/context';
import { parseConfig } from '../models/spec';
import { TextTransformer } from '../models/text';
import { LOGIT_SCALE, parseTextConfig, TEXT_FULL_CHECKPOINT_HINT, type TextSpec } from '../models/textSpec';
import { VisionTransformer } from '../models/vision';
import { classEmbeddings, DEFAULT_TEMPLATES, NUMERIC_NAMES_NOTE, numericClassNames, zeroShotHeadWeight, type HeadKind } from '../models/zeroShot';
import { buildModel } from './prepare';

export class ZeroShotError extends Error {
  override name = 'ZeroShotError';
}

/** The text tower's spec, or an error saying why this checkpoint cannot give a zero-shot head. */
export function textSpecOf(ckpt: Checkpoint): TextSpec {
  const file = `${ckpt.source}/config.json`;
  const spec = parseConfig(ckpt.config, file, ckpt.tensors.keys());
  if (spec.family !== 'clip') {
    throw new ZeroShotError(`${ckpt.source} is a ${spec.architecture}; zero-shot heads need a CLIP model, whose text tower reads the class names. Use a new linear head.`);
  }
  const text = parseTextConfig(ckpt.config, file, ckpt.tensors.keys());
  if (!text) throw new ZeroShotError(`${ckpt.source} has no text tower (no text_model.* tensors). ${TEXT_FULL_CHECKPOINT_HINT}`);
  return text;
}

/** Whether a checkpoint can give a zero-shot head (a full CLIP), for the page to offer it. */
export function hasTextTower(ckpt: Pick<Checkpoint, 'config' | 'tensors'>): boolean {
  return parseTextConfig(ckpt.config, 'config.json', ckpt.tensors.keys()) !== undefined;
}

export interface ZeroShotHeadInfo {
  /** (classes × projection_dim): logit_scale times the unit class embeddings. */
  weight: Float32Array;
  prompts: number;
  templates: string[];
  logitScale: number;
}

/** Runs the text tower over class names × templates once and returns the head's weight. */
export async function zeroShotHead(ctx: GpuContext, ckpt: Checkpoint, classNames: readonly string[], templates: readonly string[] = DEFAULT_TEMPLATES): Promise<ZeroShotHeadInfo> {
  const text = textSpecOf(ckpt);
  if (numericClassNames(classNames)) throw new ZeroShotError(`Class names ${classNames.slice(0, 4).map((n) => JSON.stringify(n)).join(', ')}…: ${NUMERIC_NAMES_NOTE}`);
  const tok = textTokenizer(ckpt.tokenizer, ckpt.source, text.maxPositions);
  if (tok.vocabSize > text.vocabSize) {
    throw new ZeroShotError(`${ckpt.source}: tokenizer.json has ${tok.vocabSize} tokens but the text tower's vocabulary has ${text.vocabSize}; they do not belong together. Download the checkpoint again.`);
  }
  const visionHidden = parseConfig(ckpt.config, 'config.json', ckpt.tensors.keys()).hidden;
  const tower = new TextTransformer(ctx, text, ckpt.tensors, { source: ckpt.source, visionHidden });
  try {
    const e = await classEmbeddings(tower, (p) => tok.encode(p), classNames, templates);
    const ls = ckpt.tensors.get(LOGIT_SCALE)?.data[0] ?? text.logitScaleInit;
    return { weight: zeroShotHeadWeight(e, ls), prompts: e.prompts, templates: [...templates], logitScale: Math.exp(ls) };
  } finally {
    tower.release();
  }
}

/** The run's model with the head it asks for: a new linear head, or the zero-shot head (frozen or trained, the trainer decides). */
export async function buildRunModel(
  ctx: GpuContext,
  ckpt: Checkpoint,
  classNames: readonly string[],
  seed: number,
  head: HeadKind = 'linear',
  templates?: readonly string[],
): Promise<VisionTransformer> {
  if (head === 'linear') return buildModel(ctx, ckpt, classNames.length, seed);
  const zs = await zeroShotHead(ctx, ckpt, classNames, templates);
  const spec = parseConfig(ckpt.config, `${ckpt.source}/config.json`, ckpt.tensors.keys());
  return new VisionTransformer(ctx, spec, ckpt.tensors, { numLabels: classNames.length, seed, source: ckpt.source, zeroShot: { weight: zs.weight } });
}

/** What the page shows about a checkpoint's text side, or undefined when it has none. */
export function textTowerInfo(ckpt: Checkpoint): TextTowerInfo | undefined {
  const t = parseTextConfig(ckpt.config, `${ckpt.source}/config.json`, ckpt.tensors.keys());
  if (!t) return undefined;
  let tokenizerError: string | undefined;
  try {
    textTokenizer(ckpt.tokenizer, ckpt.source, t.maxPositions);
  } catch (e) {
    tokenizerError = (e as Error).message;
  }
  return {
    layers: t.layers,
    hidden: t.hidden,
    vocabSize: t.vocabSize,
    maxPositions: t.maxPositions,
    projectionDim: t.projectionDim,
    tokenizerFiles: ckpt.tokenizer?.files ?? [],
    ...(tokenizerError ? { tokenizerError } : {}),
  };
}
