/**
 * CLIP zero-shot heads (Radford et al. 2021): each class's embedding is the mean over prompt
 * templates of the normalised text embeddings of "template with the class name", normalised
 * again (as the CLIP paper's ImageNet notebook does; with one template this changes nothing);
 * logits = logit_scale·⟨normalised image embedding, class embedding⟩. The text tower runs once
 * per run, here, never per step.
 */
import type { TextTransformer } from './text';

/** How a CLIP run classifies: a new linear head, the zero-shot head frozen, or the zero-shot head as the start of a trained one. */
export type HeadKind = 'linear' | 'zeroshot' | 'zeroshot-init';
export const HEAD_KINDS: readonly HeadKind[] = ['linear', 'zeroshot', 'zeroshot-init'];

export const HEAD_LABELS: Record<HeadKind, { label: string; help: string }> = {
  linear: { label: 'New linear head', help: 'A classifier on the image features, initialised at random and trained.' },
  zeroshot: { label: 'Zero-shot head, frozen', help: "Class names × prompt templates through CLIP's text tower; kept fixed while the backbone trains (the RandLoRA paper's CLIP protocol)." },
  'zeroshot-init': { label: 'Zero-shot head, then trained', help: 'Starts from the zero-shot head and trains it with the backbone (as WiSE-FT fine-tunes CLIP).' },
};

export function isHeadKind(s: string): s is HeadKind {
  return (HEAD_KINDS as readonly string[]).includes(s);
}

/** The CLIP paper's single default prompt. */
export const DEFAULT_TEMPLATES: readonly string[] = ['a photo of a {}.'];

/** The 80 ImageNet prompt templates of the CLIP paper's prompt-engineering notebook. */
export const CLIP_PAPER_TEMPLATES: readonly string[] = [
  'a bad photo of a {}.', 'a photo of many {}.', 'a sculpture of a {}.', 'a photo of the hard to see {}.',
  'a low resolution photo of the {}.', 'a rendering of a {}.', 'graffiti of a {}.', 'a bad photo of the {}.',
  'a cropped photo of the {}.', 'a tattoo of a {}.', 'the embroidered {}.', 'a photo of a hard to see {}.',
  'a bright photo of a {}.', 'a photo of a clean {}.', 'a photo of a dirty {}.', 'a dark photo of the {}.',
  'a drawing of a {}.', 'a photo of my {}.', 'the plastic {}.', 'a photo of the cool {}.',
  'a close-up photo of a {}.', 'a black and white photo of the {}.', 'a painting of the {}.', 'a painting of a {}.',
  'a pixelated photo of the {}.', 'a sculpture of the {}.', 'a bright photo of the {}.', 'a cropped photo of a {}.',
  'a plastic {}.', 'a photo of the dirty {}.', 'a jpeg corrupted photo of a {}.', 'a blurry photo of the {}.',
  'a photo of the {}.', 'a good photo of the {}.', 'a rendering of the {}.', 'a {} in a video game.',
  'a photo of one {}.', 'a doodle of a {}.', 'a close-up photo of the {}.', 'a photo of a {}.',
  'the origami {}.', 'the {} in a video game.', 'a sketch of a {}.', 'a doodle of the {}.',
  'a origami {}.', 'a low resolution photo of a {}.', 'the toy {}.', 'a rendition of the {}.',
  'a photo of the clean {}.', 'a photo of a large {}.', 'a rendition of a {}.', 'a photo of a nice {}.',
  'a photo of a weird {}.', 'a blurry photo of a {}.', 'a cartoon {}.', 'art of a {}.',
  'a sketch of the {}.', 'a embroidered {}.', 'a pixelated photo of a {}.', 'itap of the {}.',
  'a jpeg corrupted photo of the {}.', 'a good photo of a {}.', 'a plushie {}.', 'a photo of the nice {}.',
  'a photo of the small {}.', 'a photo of the weird {}.', 'the cartoon {}.', 'art of the {}.',
  'a drawing of the {}.', 'a photo of the large {}.', 'a black and white photo of a {}.', 'the plushie {}.',
  'a dark photo of a {}.', 'itap of a {}.', 'graffiti of the {}.', 'a toy {}.',
  'itap of my {}.', 'a photo of a cool {}.', 'a photo of a small {}.', 'a tattoo of the {}.',
];

export const TEMPLATE_SETS = { default: DEFAULT_TEMPLATES, 'clip-paper': CLIP_PAPER_TEMPLATES } as const;
export type TemplateSetName = keyof typeof TEMPLATE_SETS;

/** Checks a template list: each holds "{}" where the class name goes. */
export function checkTemplates(templates: readonly string[], where = 'the template list'): string[] {
  const list = templates.map((t) => t.trim()).filter(Boolean);
  if (!list.length) throw new Error(`${where} is empty: give at least one prompt template such as "a photo of a {}."`);
  const bad = list.find((t) => !t.includes('{}'));
  if (bad !== undefined) throw new Error(`${where}: the template ${JSON.stringify(bad)} has no "{}" where the class name goes, e.g. "a photo of a {}."`);
  return list;
}

/** Templates from a text file: one per line, blank lines and lines starting with # ignored. */
export function parseTemplateFile(text: string, file: string): string[] {
  return checkTemplates(text.split(/\r?\n/).filter((l) => !l.trim().startsWith('#')), file);
}

export function fillTemplate(template: string, className: string): string {
  return template.split('{}').join(className);
}

/** Class names that are bare numbers ("0", "1", …, as IDX files give) carry no meaning for a text tower. */
export function numericClassNames(names: readonly string[]): boolean {
  return names.length > 0 && names.every((n) => /^\s*\d+\s*$/.test(n));
}

export const NUMERIC_NAMES_NOTE =
  'These class names are bare numbers. Zero-shot classification reads class names through the text tower, so it needs real names (e.g. "t-shirt", "trouser"): type them in, one per class, or give the data set a classes.txt.';

export interface ZeroShotClassEmbeddings {
  /** (classes, projection_dim), unit rows. */
  embeddings: Float32Array;
  classes: number;
  dim: number;
  prompts: number;
}

/**
 * Class embeddings from class names × templates. `tokenize` turns a prompt into ids with the
 * start and end tokens (the io layer's tokenizer); the text tower runs every prompt once.
 */
export async function classEmbeddings(
  text: TextTransformer,
  tokenize: (prompt: string) => number[],
  classNames: readonly string[],
  templates: readonly string[],
): Promise<ZeroShotClassEmbeddings> {
  const list = checkTemplates(templates);
  const prompts: number[][] = [];
  for (const c of classNames) for (const t of list) prompts.push(tokenize(fillTemplate(t, c)));
  const raw = await text.encode(prompts);
  return averageClassEmbeddings(raw, classNames.length, list.length, text.spec.projectionDim);
}

/** Normalise each prompt's embedding, average per class (prompts grouped by class), normalise again; float64 accumulation. */
export function averageClassEmbeddings(raw: ArrayLike<number>, classes: number, perClass: number, dim: number): ZeroShotClassEmbeddings {
  const out = new Float32Array(classes * dim);
  const acc = new Float64Array(dim);
  for (let c = 0; c < classes; c++) {
    acc.fill(0);
    for (let t = 0; t < perClass; t++) {
      const o = (c * perClass + t) * dim;
      let ss = 0;
      for (let j = 0; j < dim; j++) ss += raw[o + j] ** 2;
      const inv = 1 / Math.sqrt(ss);
      for (let j = 0; j < dim; j++) acc[j] += raw[o + j] * inv;
    }
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += acc[j] ** 2;
    const inv = 1 / Math.sqrt(ss);
    for (let j = 0; j < dim; j++) out[c * dim + j] = acc[j] * inv;
  }
  return { embeddings: out, classes, dim, prompts: classes * perClass };
}

/** The head's weight: logit_scale (the exp of the checkpoint's logit_scale parameter) times the class embeddings. */
export function zeroShotHeadWeight(e: ZeroShotClassEmbeddings, logitScaleParam: number): Float32Array {
  const s = Math.exp(logitScaleParam);
  return Float32Array.from(e.embeddings, (v) => v * s);
}
