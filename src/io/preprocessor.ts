/**
 * How images are prepared for a model, from its preprocessor_config.json, with the defaults
 * Transformers' image processors use for fields (or the whole file) that are missing. The
 * file's format has changed over time (a bare `size: 224` versus `{shortest_edge: 224}` or
 * `{height, width}`); everything is normalised here so later layers see one shape.
 */

export type Size = { height: number; width: number };

export interface ImagePreprocessing {
  /** Whether the values came from the file or only from defaults for the model family. */
  source: 'preprocessor_config.json' | 'defaults';
  family: 'vit' | 'deit' | 'clip';
  /** Resize to exactly height×width, or scale so the shorter side is `shortestEdge`; null: no resize. */
  resize: Size | { shortestEdge: number } | null;
  centerCrop: Size | null;
  /** Multiplies 0–255 pixel values (1/255 as a rule); null: no rescale. */
  rescaleFactor: number | null;
  /** Per-channel RGB; null: no normalisation. */
  mean: [number, number, number] | null;
  std: [number, number, number] | null;
  /** PIL resampling code: 2 bilinear, 3 bicubic. */
  resample: number;
  /** Grey or RGBA images become RGB first. */
  convertRgb: boolean;
  /** The height×width the model receives. */
  inputSize: Size;
  /** The file as read, or null. */
  raw: Record<string, unknown> | null;
}

const IMAGENET_STANDARD: [number, number, number] = [0.5, 0.5, 0.5];
const IMAGENET_DEFAULT_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_DEFAULT_STD: [number, number, number] = [0.229, 0.224, 0.225];
const OPENAI_CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

import { IoError } from './errors';

type Json = Record<string, unknown>;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function triple(v: unknown): [number, number, number] | undefined {
  if (typeof v === 'number') return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return v as [number, number, number];
  return undefined;
}

/** The model family decides the defaults; a full CLIP checkpoint keeps the vision settings in vision_config. */
export function modelFamily(config: Json): ImagePreprocessing['family'] {
  const type = String(config.model_type ?? '').toLowerCase();
  if (type.includes('clip')) return 'clip';
  if (type === 'deit') return 'deit';
  return 'vit';
}

export function configImageSize(config: Json): number {
  const vision = (typeof config.vision_config === 'object' && config.vision_config !== null ? config.vision_config : config) as Json;
  return num(vision.image_size) ?? num(config.image_size) ?? 224;
}

function defaultsFor(family: ImagePreprocessing['family'], imageSize: number): Omit<ImagePreprocessing, 'source' | 'raw' | 'inputSize'> {
  switch (family) {
    case 'clip':
      return {
        family,
        resize: { shortestEdge: imageSize },
        centerCrop: { height: imageSize, width: imageSize },
        rescaleFactor: 1 / 255,
        mean: OPENAI_CLIP_MEAN,
        std: OPENAI_CLIP_STD,
        resample: 3,
        convertRgb: true,
      };
    case 'deit': {
      // DeiT resizes to 256/224 of the input, then crops, as its image processor does at 224.
      const r = Math.round((imageSize * 256) / 224);
      return {
        family,
        resize: { height: r, width: r },
        centerCrop: { height: imageSize, width: imageSize },
        rescaleFactor: 1 / 255,
        mean: IMAGENET_DEFAULT_MEAN,
        std: IMAGENET_DEFAULT_STD,
        resample: 3,
        convertRgb: true,
      };
    }
    case 'vit':
      return {
        family,
        resize: { height: imageSize, width: imageSize },
        centerCrop: null,
        rescaleFactor: 1 / 255,
        mean: IMAGENET_STANDARD,
        std: IMAGENET_STANDARD,
        resample: 2,
        convertRgb: true,
      };
  }
}

function parseSize(v: unknown, squareInts: boolean): Size | { shortestEdge: number } | undefined {
  if (typeof v === 'number') return squareInts ? { height: v, width: v } : { shortestEdge: v };
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Json;
  const h = num(o.height);
  const w = num(o.width);
  if (h !== undefined && w !== undefined) return { height: h, width: w };
  const se = num(o.shortest_edge);
  if (se !== undefined) return { shortestEdge: se };
  return undefined;
}

/**
 * Normalisation statistics that would make NaN or ±Inf of every pixel: a standard deviation of 0
 * (or negative, or not finite) divides by zero, and a mean that is not finite poisons the sum.
 * `where` names the file for the message.
 */
function checkStatistics(mean: readonly number[] | null, std: readonly number[] | null, where: string): void {
  const bad = (name: string, values: readonly number[], fine: (v: number) => boolean, why: string) => {
    const i = values.findIndex((v) => !fine(v));
    if (i < 0) return;
    throw new IoError(
      'format',
      `${where}: ${name} is ${JSON.stringify(values)}, and its entry ${i} (${values[i]}) ${why}, so every image would become NaN or infinite. ` +
        `Fix ${name} in the file (ViT's processors use [0.5, 0.5, 0.5]; CLIP's [0.2686, 0.2613, 0.2758]) and load the model again.`,
      'preprocessor_config.json',
    );
  };
  if (mean) bad('image_mean', mean, Number.isFinite, 'is not a finite number');
  if (std) bad('image_std', std, (v) => Number.isFinite(v) && v > 0, 'is not a positive number: pixels are divided by it');
}

/** The largest edge a processor may resize or crop to: far above any vision model's input, far below a batch that cannot be allocated. */
export const MAX_PROCESSOR_EDGE = 4096;

/** Resize and crop sizes must be whole numbers of pixels the batch code can allocate. */
function checkSizes(p: Pick<ImagePreprocessing, 'resize' | 'centerCrop'>, where: string): void {
  const fields: Array<[string, number]> = [];
  if (p.resize) {
    if ('shortestEdge' in p.resize) fields.push(['size.shortest_edge', p.resize.shortestEdge]);
    else fields.push(['size.height', p.resize.height], ['size.width', p.resize.width]);
  }
  if (p.centerCrop) fields.push(['crop_size.height', p.centerCrop.height], ['crop_size.width', p.centerCrop.width]);
  for (const [name, v] of fields) {
    if (Number.isInteger(v) && v >= 1 && v <= MAX_PROCESSOR_EDGE) continue;
    throw new IoError(
      'format',
      `${where}: ${name} is ${v}, but image sizes are whole numbers of pixels from 1 to ${MAX_PROCESSOR_EDGE}. Fix it in the file (the model's image_size, e.g. 224, as a rule) and load the model again.`,
      'preprocessor_config.json',
    );
  }
}

export function imagePreprocessing(config: Json, file: Json | null, where = 'preprocessor_config.json'): ImagePreprocessing {
  const family = modelFamily(config);
  const imageSize = configImageSize(config);
  const d = defaultsFor(family, imageSize);
  const p: Omit<ImagePreprocessing, 'inputSize'> = { ...d, source: file ? 'preprocessor_config.json' : 'defaults', raw: file };
  if (file) {
    // CLIP's processor reads a bare integer size as the shorter edge; ViT's as a square.
    const size = parseSize(file.size, family !== 'clip');
    if (file.do_resize === false) p.resize = null;
    else if (size) p.resize = size;
    const crop = parseSize(file.crop_size, true);
    if (file.do_center_crop === false) p.centerCrop = null;
    else if (file.do_center_crop === true && crop && 'height' in crop) p.centerCrop = crop;
    else if (file.do_center_crop === true && !p.centerCrop) p.centerCrop = { height: imageSize, width: imageSize };
    else if (crop && 'height' in crop && p.centerCrop) p.centerCrop = crop;
    if (file.do_rescale === false) p.rescaleFactor = null;
    else p.rescaleFactor = num(file.rescale_factor) ?? p.rescaleFactor;
    if (file.do_normalize === false) {
      p.mean = null;
      p.std = null;
    } else {
      p.mean = triple(file.image_mean) ?? p.mean;
      p.std = triple(file.image_std) ?? p.std;
    }
    p.resample = num(file.resample) ?? p.resample;
    if (typeof file.do_convert_rgb === 'boolean') p.convertRgb = file.do_convert_rgb;
    checkStatistics(p.mean, p.std, where);
    checkSizes(p, where);
  }
  const inputSize: Size =
    p.centerCrop ?? (p.resize && 'height' in p.resize ? { height: p.resize.height, width: p.resize.width } : { height: imageSize, width: imageSize });
  return { ...p, inputSize };
}
