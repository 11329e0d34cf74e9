import { checkClassCoverage } from '../io/datasets/coverage';
import type { Checkpoint } from '../io/checkpoint';
import { packImages } from '../io/datasets/pack';
import { kShotPerClass, trainValSplit } from '../io/datasets/split';
import { sampleKShot } from '../study/kshot';
import type { ImageDataset } from '../io/datasets/types';
import type { Normalisation } from '../engine/ops/preprocess';
import type { GpuContext } from '../gpu/context';
import { parseConfig, type ModelSpec } from '../models/spec';
import { VisionTransformer } from '../models/vision';
import type { PackedImages, ProcessorPlan } from '../train/data';

/**
 * The model's own input size, resize, crop and normalisation, from preprocessor_config.json or
 * the family's defaults: the resize and crop run on the CPU per batch, exactly as Pillow in the
 * model's Hugging Face image processor; rescale and normalisation on the GPU.
 */
export function normalisationFor(spec: ModelSpec, ckpt: Pick<Checkpoint, 'preprocessor'>): Normalisation & { processor: ProcessorPlan } {
  const p = ckpt.preprocessor;
  return {
    size: spec.imageSize,
    mean: p.mean ?? [0, 0, 0],
    std: p.std ?? [1, 1, 1],
    processor: { resize: p.resize, centerCrop: p.centerCrop, resample: p.resample, inputSize: p.inputSize },
  };
}

export function buildModel(ctx: GpuContext, ckpt: Checkpoint, numLabels: number, seed: number): VisionTransformer {
  const spec = parseConfig(ckpt.config, `${ckpt.source}/config.json`, ckpt.tensors.keys());
  return new VisionTransformer(ctx, spec, ckpt.tensors, { numLabels, seed, source: ckpt.source });
}

export interface DataPlan {
  /** Share of each class held out for validation (when no separate validation set is given). */
  valFraction: number;
  seed: number;
  /**
   * Seeds the train/validation split and the validation subset alone (default: `seed`). A study
   * keeps one split for all its runs, so its error bars measure training and k-shot draws, not
   * different validation images; the page's lab does the same.
   */
  splitSeed?: number;
  /** Keep only this many training images (balanced per class), for quick runs. */
  trainLimit?: number;
  valLimit?: number;
  /** k images per class for training, as in the RandLoRA paper's few-shot settings. */
  kShot?: number;
}

export interface PreparedData {
  train: PackedImages;
  trainIndices: number[];
  val: PackedImages;
  valIndices: number[];
  classNames: string[];
}

function take(indices: ArrayLike<number>, labels: ArrayLike<number>, limit: number | undefined, seed: number): number[] {
  if (!limit || limit >= indices.length) return Array.from(indices);
  // Balanced per class: k-shot with k = limit / classes, topped up by the rest in seeded order.
  const classes = new Set(Array.from(indices, (i) => labels[i])).size;
  const picked = kShotPerClass(labels, Math.max(1, Math.floor(limit / classes)), { seed, within: indices });
  return Array.from(picked.indices).slice(0, limit);
}

/**
 * Seeded split of one data set into training and validation (or a given validation set, by
 * default the validation split the set came with, so valFraction applies only without one), with
 * optional size limits and k-shot sampling; the same plan and seed give the same images, so runs
 * of different methods compare on identical data.
 */
export function prepareData(dataset: ImageDataset, plan: DataPlan, validation: ImageDataset | undefined = dataset.validation?.set): PreparedData {
  let trainIdx: number[];
  let valIdx: number[];
  if (validation) {
    trainIdx = Array.from(dataset.labels, (_, i) => i);
    valIdx = Array.from(validation.labels, (_, i) => i);
  } else {
    const split = trainValSplit(dataset.labels, { valFraction: plan.valFraction, seed: plan.splitSeed ?? plan.seed, numClasses: dataset.classNames.length });
    trainIdx = Array.from(split.train);
    valIdx = Array.from(split.val);
  }
  if (plan.kShot) {
    // The study's k-shot draw (src/study/kshot.ts): k per class from the training split, per seed.
    trainIdx = Array.from(sampleKShot(dataset.labels, plan.kShot, plan.seed, trainIdx));
  }
  trainIdx = take(trainIdx, dataset.labels, plan.trainLimit, plan.seed);
  const valSet = validation ?? dataset;
  valIdx = take(valIdx, valSet.labels, plan.valLimit, (plan.splitSeed ?? plan.seed) + 1);
  if (trainIdx.length === 0) {
    throw new Error(`${dataset.source}: the split leaves no training images (${dataset.labels.length} images, validation fraction ${plan.valFraction}). Lower the validation fraction or add images.`);
  }
  if (valIdx.length === 0) {
    throw new Error(
      `${valSet.source}: the split leaves no validation images (validation fraction ${plan.valFraction}; a class needs at least 2 images to give one to validation). Raise the validation fraction or add images.`,
    );
  }
  checkClassCoverage({
    classNames: dataset.classNames,
    trainLabels: dataset.labels,
    trainIndices: trainIdx,
    valLabels: valSet.labels,
    valIndices: valIdx,
    source: dataset.source,
    separateValidation: !!validation,
  });
  const train = packImages(dataset, trainIdx);
  const val = packImages(valSet, valIdx);
  return {
    train,
    trainIndices: Array.from(train.labels, (_, i) => i),
    val,
    valIndices: Array.from(val.labels, (_, i) => i),
    classNames: dataset.classNames,
  };
}
