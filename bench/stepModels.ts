/**
 * The models the step suite trains: the shipped demo model, and ViT-S/16 and ViT-B/16 shapes with
 * seeded random weights (no download; the step's cost does not depend on the values).
 */
import { resolve } from 'node:path';
import { generatedCheckpoint, type Checkpoint } from '../src/io/checkpoint';
import { loadCheckpointFrom } from '../src/io/node';
import { makeModel } from '../src/models/makeModel';
import type { PresetDims } from '../src/models/presets';

export const DEMO_MODEL = 'public/models/rankscope-vit-fmnist5';
export const DEMO_DATA = 'public/datasets/fashion-mnist-heldout';

export const STEP_SHAPES = ['demo', 'vit-s16', 'vit-b16'] as const;
export type StepShape = (typeof STEP_SHAPES)[number];

/** ViT-S/16 (DeiT-S sizes) and ViT-B/16 at 224², as timm and transformers define them. */
const VIT_DIMS: Record<Exclude<StepShape, 'demo'>, PresetDims> = {
  'vit-s16': { hidden: 384, layers: 12, heads: 6, intermediate: 1536, imageSize: 224, patchSize: 16, channels: 3, labels: 5 },
  'vit-b16': { hidden: 768, layers: 12, heads: 12, intermediate: 3072, imageSize: 224, patchSize: 16, channels: 3, labels: 5 },
};

/** Default images per step: the demo as in the first measurement, the ViT shapes at 8. */
export function defaultBatch(shape: StepShape): number {
  return shape === 'demo' ? 16 : 8;
}

/**
 * The checkpoint for a shape. `depth` keeps only the first blocks of a ViT shape (per-block figures
 * are the same; SwiftShader takes minutes per full ViT-B/16 step).
 */
export async function stepCheckpoint(shape: StepShape, depth?: number): Promise<{ ckpt: Checkpoint; name: string }> {
  if (shape === 'demo') return { ckpt: await loadCheckpointFrom(resolve(DEMO_MODEL)), name: 'demo (3 blocks)' };
  const dims = { ...VIT_DIMS[shape] };
  if (depth !== undefined) dims.layers = Math.min(depth, dims.layers);
  const made = makeModel({ arch: 'vit', dims, seed: 0, labels: dims.labels });
  const name = dims.layers === VIT_DIMS[shape].layers ? shape : `${shape} (${dims.layers} of ${VIT_DIMS[shape].layers} blocks)`;
  return { ckpt: generatedCheckpoint(made, `random ${shape}`), name };
}
