import { randU32 } from '../engine/random';
import { augmentBoxes, type Augmentation, type CropBox } from '../engine/ops/preprocess';
import { flipInPlace, resizeImage, RESAMPLE, type Image8 } from './resample';

/**
 * Images ready for training: each held at its working size (a little above the model's input,
 * aspect ratio kept, never the full photo), 8-bit, channel-last, 1 (grey) or 3 (RGB) channels.
 * The io and session layers turn whatever a person loaded into this; training never sees files.
 * Each batch is made on the CPU from these: the model's image-processor resize and crop for
 * evaluation (and unaugmented training), a random resized crop and flip for augmented training.
 */
export interface PackedImages {
  count: number;
  images: Image8[];
  /** 1 when every image is grey, else 3 (grey images are expanded when a batch is made). */
  channels: 1 | 3;
  labels: Int32Array;
  classNames: string[];
}

export type Size = { height: number; width: number };

/**
 * The part of a Hugging Face image processor that decides pixels (the rest, rescale and
 * normalise, runs on the GPU): resize to a size or a shortest edge with a Pillow filter, then an
 * optional center crop. Structurally the same as io's ImagePreprocessing, so it is passed as is.
 */
export interface ProcessorPlan {
  resize: Size | { shortestEdge: number } | null;
  centerCrop: Size | null;
  /** Pillow's resampling code: 2 bilinear, 3 bicubic. */
  resample: number;
  inputSize: Size;
}

/** ViT's processor at `size`: a bilinear resize to the square, no crop. */
export function squarePlan(size: number): ProcessorPlan {
  return { resize: { height: size, width: size }, centerCrop: null, resample: RESAMPLE.bilinear, inputSize: { height: size, width: size } };
}

/**
 * The processor's resize output for an image of width×height, as transformers'
 * get_resize_output_image_size: a shortest edge scales the longer side by int() truncation.
 */
export function resizeTarget(plan: ProcessorPlan, width: number, height: number): Size {
  const r = plan.resize;
  if (!r) return { width, height };
  if ('height' in r) return { height: r.height, width: r.width };
  const e = r.shortestEdge;
  if (width <= height) return { width: e, height: Math.trunc((e * height) / width) };
  return { width: Math.trunc((e * width) / height), height: e };
}

/**
 * The shortest edge images are kept at after decoding: the processor's resize size (its shortest
 * edge, or the larger side of its fixed size), so nothing the model sees is lost, and random crops
 * of it still have detail. For CLIP-style processors this is exactly the processor's own resize.
 */
export function workingEdge(plan: ProcessorPlan): number {
  const r = plan.resize;
  if (!r) return Math.max(plan.inputSize.height, plan.inputSize.width);
  if ('height' in r) return Math.max(r.height, r.width);
  return r.shortestEdge;
}

/** The size an image of width×height is kept at: shortest edge `edge`, aspect kept, never enlarged. */
export function workingSize(width: number, height: number, edge: number): Size {
  if (Math.min(width, height) <= edge) return { width, height };
  if (width <= height) return { width: edge, height: Math.max(1, Math.trunc((edge * height) / width)) };
  return { width: Math.max(1, Math.trunc((edge * width) / height)), height: edge };
}

/** transformers' center_crop offsets: (orig − crop) // 2; a crop larger than the image pads with zeros. */
function centerCrop(img: Image8, crop: Size): Image8 {
  if (crop.width === img.width && crop.height === img.height) return img;
  const C = img.channels;
  const out = new Uint8Array(crop.width * crop.height * C);
  const top = Math.floor((img.height - crop.height) / 2);
  const left = Math.floor((img.width - crop.width) / 2);
  for (let y = 0; y < crop.height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < crop.width; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= img.width) continue;
      for (let c = 0; c < C; c++) out[(y * crop.width + x) * C + c] = img.data[(sy * img.width + sx) * C + c];
    }
  }
  return { data: out, width: crop.width, height: crop.height, channels: C };
}

/** The processor's resize, then its center crop, then (if the two disagree) a final resize to its input size. */
export function processorInput(img: Image8, plan: ProcessorPlan): Image8 {
  const t = resizeTarget(plan, img.width, img.height);
  let out = t.width === img.width && t.height === img.height ? img : resizeImage(img, t.width, t.height, plan.resample);
  if (plan.centerCrop) out = centerCrop(out, plan.centerCrop);
  const S = plan.inputSize;
  if (out.width !== S.width || out.height !== S.height) out = resizeImage(out, S.width, S.height, plan.resample);
  return out;
}

/**
 * torchvision's RandomResizedCrop on a PIL image (crop box, then a bilinear, antialiased resize to
 * the input size) and RandomHorizontalFlip.
 */
export function augmentedInput(img: Image8, box: CropBox, size: Size): Image8 {
  const out = resizeImage(img, size.width, size.height, RESAMPLE.bilinear, box);
  if (box.flip) flipInPlace(out);
  return out;
}

/** Writes `img` into `out` with `channels` channels (grey expanded to RGB when needed). */
function writeChannels(img: Image8, channels: 1 | 3, out: Uint8Array): void {
  if (img.channels === channels) {
    out.set(img.data);
    return;
  }
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const v = img.data[i];
    out[3 * i] = v;
    out[3 * i + 1] = v;
    out[3 * i + 2] = v;
  }
}

export interface BatchOptions {
  plan: ProcessorPlan;
  augment?: Augmentation;
  seed?: number;
  /** The micro-batch counter augmentation is keyed by. */
  step?: number;
}

/** Bytes one image of the batch takes: the processor's input size × channels. */
export function batchImageBytes(set: Pick<PackedImages, 'channels'>, plan: ProcessorPlan): number {
  return plan.inputSize.height * plan.inputSize.width * set.channels;
}

/**
 * Makes the images at `indices` into model inputs in `out` (reused across steps) and their labels.
 * With augmentation each image gets its crop box from `augmentBoxes` for its own working size,
 * keyed by (seed, step, index), so a seed reproduces every augmented batch.
 */
export function gatherBatch(set: PackedImages, indices: readonly number[], out: Uint8Array, labels: Int32Array, options: BatchOptions): void {
  const n = batchImageBytes(set, options.plan);
  indices.forEach((idx, i) => {
    // One read of `data` per image and batch: an image held on disk reads its file on each access.
    const held = set.images[idx];
    const img: Image8 = { data: held.data, width: held.width, height: held.height, channels: held.channels };
    let input: Image8;
    if (options.augment) {
      const box = augmentBoxes(options.augment, img, [idx], options.seed ?? 0, options.step ?? 0)[0];
      input = augmentedInput(img, box, options.plan.inputSize);
    } else input = processorInput(img, options.plan);
    writeChannels(input, set.channels, out.subarray(i * n, (i + 1) * n));
    labels[i] = set.labels[idx];
  });
}

/**
 * Seeded epochs over `indices`: each epoch is a fresh permutation, so two runs with the same seed
 * see the same batches in the same order (what makes runs of different methods comparable).
 */
export interface SamplerPosition {
  /** Epochs started so far (0: none). */
  epoch: number;
  /** Images drawn from the current epoch's order. */
  pos: number;
}

export class BatchSampler {
  private order: number[] = [];
  private pos = 0;
  private epoch = 0;

  constructor(
    private readonly indices: readonly number[],
    private readonly batchSize: number,
    private readonly seed: number,
  ) {
    if (indices.length === 0) throw new Error('The training set is empty: load a data set with at least one labelled image.');
  }

  next(): number[] {
    const out: number[] = [];
    while (out.length < this.batchSize) {
      if (this.pos >= this.order.length) this.shuffle();
      out.push(this.order[this.pos++]);
    }
    return out;
  }

  /** Where the sampler stands: enough to continue the same sequence of batches after a restart. */
  get position(): SamplerPosition {
    return { epoch: this.epoch, pos: this.pos };
  }

  /** Continues from a saved position (the permutation of an epoch is a function of seed and epoch). */
  restore(p: SamplerPosition): void {
    if (!(Number.isInteger(p.epoch) && p.epoch >= 0 && Number.isInteger(p.pos) && p.pos >= 0)) {
      throw new Error(`sampler position ${JSON.stringify(p)} is not a saved position`);
    }
    this.order = [];
    this.pos = 0;
    this.epoch = Math.max(0, p.epoch - 1);
    if (p.epoch > 0) {
      this.shuffle();
      if (p.pos > this.order.length) throw new Error(`sampler position ${p.pos} is past the ${this.order.length} training images`);
      this.pos = p.pos;
    }
  }

  private shuffle(): void {
    const a = [...this.indices];
    for (let i = a.length - 1; i > 0; i--) {
      const j = randU32(this.seed, 0xba7c0000 + this.epoch, i) % (i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    this.order = a;
    this.pos = 0;
    this.epoch++;
  }
}
