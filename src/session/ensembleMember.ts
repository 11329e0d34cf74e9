/**
 * One member of an ensemble: a finished run's merged model with its own head and its own
 * preprocessing, run once over the images the ensemble needs. Its features (the head's input)
 * and logits are read back and cached: members stay frozen, so nothing about them is recomputed
 * while the controller trains.
 */
import type { Checkpoint } from '../io/checkpoint';
import type { GpuContext } from '../gpu/context';
import { loadMethod } from '../methods/registry';
import { DEFAULT_TARGETS, HEAD_MODULE } from '../models/names';
import { parseConfig } from '../models/spec';
import { VisionTransformer } from '../models/vision';
import { Trainer } from '../train/trainer';
import { ZERO_SHOT_HEAD } from '../io/peft/layout';
import { normalisationFor, type PreparedData } from './prepare';

export interface MemberOutputs {
  /** The head's input size (hidden size, or projection_dim under a zero-shot head). */
  featureSize: number;
  train: { features: Float32Array; logits: Float32Array; labels: Int32Array };
  val: { features: Float32Array; logits: Float32Array; labels: Int32Array };
  /** 'zeroshot' when the member classifies through CLIP's joint embedding. */
  head: 'linear' | 'zeroshot';
  imageSize: number;
}

/**
 * Builds the member's model from its merged checkpoint, keeping the head it was trained with (a
 * linear `classifier`, or a zero-shot head under `zero_shot_head.weight`), and runs it over the
 * training and validation images of `data`. `name` names the run in messages.
 */
export async function memberOutputs(ctx: GpuContext, ckpt: Checkpoint, data: PreparedData, name: string, batchSize: number): Promise<MemberOutputs> {
  const C = data.classNames.length;
  const spec = parseConfig(ckpt.config, `${ckpt.source}/config.json`, ckpt.tensors.keys());
  const zs = ckpt.tensors.get(ZERO_SHOT_HEAD);
  let model: VisionTransformer;
  if (zs) {
    if (zs.shape[0] !== C) throw new Error(`${name}: its zero-shot head (${ZERO_SHOT_HEAD}) has ${zs.shape[0]} classes but the data set has ${C} (${data.classNames.join(', ')}). Ensemble runs trained on these classes.`);
    model = new VisionTransformer(ctx, spec, ckpt.tensors, { numLabels: C, seed: 0, source: ckpt.source, zeroShot: { weight: zs.data } });
  } else {
    const head = ckpt.tensors.get(`${HEAD_MODULE}.weight`);
    if (!head) throw new Error(`${name}: its merged model has no ${HEAD_MODULE}.weight, so it cannot classify on its own. Ensemble runs that trained a head (any method, any head).`);
    if (head.shape[0] !== C) throw new Error(`${name}: its head ${HEAD_MODULE}.weight has ${head.shape[0]} classes but the data set has ${C} (${data.classNames.join(', ')}). Ensemble runs trained on these classes.`);
    model = new VisionTransformer(ctx, spec, ckpt.tensors, { numLabels: C, seed: 0, source: ckpt.source });
  }
  await loadMethod('probe');
  // A probe "run" that never steps, only to reuse the trainer's batching and preprocessing for this
  // model (the trainer allows 0 steps only under a frozen zero-shot head, so a linear one says 1).
  const trainer = new Trainer(model, data, normalisationFor(spec, ckpt), {
    method: 'probe',
    targets: DEFAULT_TARGETS[spec.family],
    head: zs ? 'zeroshot' : 'linear',
    steps: zs ? 0 : 1,
    batchSize,
  });
  try {
    return {
      featureSize: model.headIn,
      train: await trainer.outputs('train', data.trainIndices),
      val: await trainer.outputs('val', data.valIndices),
      head: zs ? 'zeroshot' : 'linear',
      imageSize: spec.imageSize,
    };
  } finally {
    trainer.release();
    model.release();
  }
}
