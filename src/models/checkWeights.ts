/**
 * Checks a checkpoint's tensors against what its config.json describes before anything reaches
 * the GPU, so a mismatched or damaged checkpoint is refused with the tensor's name instead of
 * training to a silently wrong result: every tensor's full shape (not just its element count, so a
 * permuted [3,48,7,7] for [48,3,7,7] is caught), the number of transformer layers in the file
 * against num_hidden_layers, and NaN or infinite values.
 */
import { blockModules, expectedTensors } from './names';
import type { ModelSpec } from './spec';

export class ModelWeightsError extends Error {
  override name = 'ModelWeightsError';
}

export interface WeightSource {
  shape: readonly number[];
  data: Float32Array;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** The text before the layer index in the backbone's block tensor names, e.g. "vit.encoder.layer.". */
function layerPrefix(spec: ModelSpec): string {
  const a = blockModules(spec, 0).ln1;
  const b = blockModules(spec, 1).ln1;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}

/** Layer indices present in the file under the backbone's block prefix. */
function layersInFile(spec: ModelSpec, names: Iterable<string>): Set<number> {
  const prefix = layerPrefix(spec);
  const found = new Set<number>();
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\./.exec(name.slice(prefix.length));
    if (m) found.add(Number(m[1]));
  }
  return found;
}

/** The first non-finite value's index, or -1. */
function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/**
 * Throws ModelWeightsError naming the file (`where`) and the first problem found; returns the
 * tensors the backbone needs, in expectedTensors' order, when all is well.
 */
export function checkWeights(spec: ModelSpec, weights: ReadonlyMap<string, WeightSource>, where: string): Map<string, WeightSource> {
  const inFile = layersInFile(spec, weights.keys());
  if (inFile.size > 0 && inFile.size !== spec.layers) {
    const max = Math.max(...inFile);
    throw new ModelWeightsError(
      `${where}: config.json says num_hidden_layers is ${spec.layers}, but the weights hold ${inFile.size} transformer layer(s) ` +
        `(numbered up to ${max}). The weights and config.json do not belong together; re-download the checkpoint or fix num_hidden_layers.`,
    );
  }
  const out = new Map<string, WeightSource>();
  const missing: string[] = [];
  for (const [name, shape] of expectedTensors(spec)) {
    const w = weights.get(name);
    if (!w) {
      missing.push(name);
      continue;
    }
    if (!sameShape(w.shape, shape)) {
      throw new ModelWeightsError(
        `${where}: tensor "${name}" has shape [${w.shape.join(',')}], but config.json implies [${shape.join(',')}]. ` +
          'The weights and config.json do not belong together; re-download the checkpoint.',
      );
    }
    const bad = firstNonFinite(w.data);
    if (bad >= 0) {
      throw new ModelWeightsError(
        `${where}: tensor "${name}" holds ${w.data[bad]} at element ${bad}. A checkpoint with NaN or infinite weights cannot be trained; ` +
          're-download it, or re-save it from a model that loads without NaN.',
      );
    }
    out.set(name, w);
  }
  if (missing.length) {
    throw new ModelWeightsError(
      `${where}: ${missing.length} tensor(s) the config needs are missing, e.g. ${missing.slice(0, 3).map((m) => `"${m}"`).join(', ')}. ` +
        'Check that this is a ViT/DeiT/CLIP vision checkpoint in Hugging Face layout.',
    );
  }
  return out;
}

/** A non-finite value in a checkpoint's own classification head is refused the same way. */
export function checkFinite(name: string, w: WeightSource, where: string): void {
  const bad = firstNonFinite(w.data);
  if (bad >= 0) {
    throw new ModelWeightsError(`${where}: tensor "${name}" holds ${w.data[bad]} at element ${bad}; re-download the checkpoint.`);
  }
}
