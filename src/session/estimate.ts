import { METHODS } from '../methods/registry';
import { expectedTensors, linearSites, matchesTarget } from '../models/names';
import { tokenCount, type ModelSpec } from '../models/spec';
import type { RunEstimate } from './protocol';
import type { RunSpec } from './run';

/**
 * What a run will cost before it starts: trainable parameters (head included), the rank each
 * targeted layer's update can reach, and GPU memory. Memory counts weights, the optimizer's
 * gradient and two moments per trainable value, frozen random bases, what a method holds from
 * forward to backward (a merged W + ΔW per layer), and the activations one training step keeps;
 * it is an estimate (the pool rounds sizes up a little).
 */
export function estimateRun(spec: ModelSpec, run: RunSpec, numLabels: number): RunEstimate {
  const method = METHODS[run.method];
  const config = { ...method.defaults, ...(run.methodConfig ?? {}) };
  const layers = linearSites(spec)
    .filter((s) => matchesTarget(s.module, run.targets))
    .map((s) => ({ module: s.module, out: s.out, in: s.in }));
  let backbone = 0;
  for (const shape of expectedTensors(spec).values()) backbone += shape.reduce((a, b) => a * b, 1);
  // A frozen zero-shot head trains nothing; a trained one trains its (classes × projection_dim) weight, its bias stays 0.
  const headKind = run.train.head ?? 'linear';
  const head = headKind === 'zeroshot' ? 0 : headKind === 'zeroshot-init' ? numLabels * (spec.projectionDim ?? spec.hidden) : numLabels * spec.hidden + numLabels;
  const trainableParams = head + (method.usesTargets ? method.countParams(config, layers) : 0) + (method.trainsBackbone ? backbone : 0);
  const maxRank = (method.usesTargets || method.trainsBackbone ? layers : []).map((l) => ({
    module: l.module,
    rank: method.maxRank(config, l, layers),
    full: Math.min(l.in, l.out),
  }));
  // Frozen values the method keeps on the GPU besides the model (shared random bases).
  const bases = method.usesTargets ? method.frozenFloats(config, layers) : 0;
  // What the method holds while a step runs (RandLoRA's and VeRA's W + ΔW per adapted layer).
  const perStep = method.usesTargets ? (method.stepFloats?.(config, layers) ?? 0) : 0;
  const B = run.train.batchSize ?? 16;
  const T = tokenCount(spec);
  const D = spec.hidden;
  const F = spec.intermediate;
  // Per block and example: normed inputs, q/k/v, attention output, residuals, MLP pre/post
  // activation (≈ 10·D + 3·F per token) plus attention's logsumexp (H·T; the fused kernel keeps
  // no H·T² probabilities).
  const perBlock = T * (10 * D + 3 * F) + spec.heads * T;
  const activations = B * (spec.layers * perBlock + T * D * 4);
  const floats = backbone + head + 3 * trainableParams + bases + perStep + 2 * activations;
  return { method: run.method, trainableParams, maxRank, memoryBytes: 4 * floats };
}
