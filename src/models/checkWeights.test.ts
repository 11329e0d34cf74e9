import { describe, expect, it } from 'vitest';
import { checkWeights, ModelWeightsError, type WeightSource } from './checkWeights';
import { makeModel } from './makeModel';
import { ConfigError, parseConfig } from './spec';

/** A tiny ViT's config and weights as the loader hands them over, copied so each test can damage its own. */
function tiny(arch: 'vit' | 'clip' = 'vit') {
  const made = makeModel({ arch, preset: 'tiny', seed: 0, labels: 3 });
  const weights = new Map<string, WeightSource>([...made.tensors].map(([k, v]) => [k, { shape: [...v.shape], data: Float32Array.from(v.data) }]));
  return { config: made.config as Record<string, unknown>, weights };
}

const specOf = (config: Record<string, unknown>, weights: Map<string, WeightSource>) => parseConfig(config, 'config.json', weights.keys());

describe('checkWeights: a checkpoint must be what its config.json says', () => {
  it.each(['vit', 'clip'] as const)('accepts an intact %s checkpoint', (arch) => {
    const { config, weights } = tiny(arch);
    expect(checkWeights(specOf(config, weights), weights, 'ckpt').size).toBeGreaterThan(10);
  });

  it('refuses a permuted shape with the same element count, naming the tensor', () => {
    const { config, weights } = tiny();
    const name = [...weights.keys()].find((k) => k.endsWith('patch_embeddings.projection.weight'))!;
    const w = weights.get(name)!;
    const [o, c, h, k] = w.shape;
    weights.set(name, { shape: [c, o, h, k], data: w.data });
    expect(() => checkWeights(specOf(config, weights), weights, 'ckpt')).toThrow(
      new RegExp(`ckpt: tensor "${name.replace(/\./g, '\\.')}" has shape \\[${c},${o},${h},${k}\\], but config.json implies \\[${o},${c},${h},${k}\\]`),
    );
  });

  it('refuses a config with fewer layers than the file holds', () => {
    const { config, weights } = tiny();
    const layers = config.num_hidden_layers as number;
    const spec = specOf({ ...config, num_hidden_layers: layers - 1 }, weights);
    expect(() => checkWeights(spec, weights, 'ckpt')).toThrow(new RegExp(`num_hidden_layers is ${layers - 1}, but the weights hold ${layers} transformer layer`));
  });

  it('refuses a config with more layers than the file holds', () => {
    const { config, weights } = tiny();
    const layers = config.num_hidden_layers as number;
    const spec = specOf({ ...config, num_hidden_layers: layers + 1 }, weights);
    expect(() => checkWeights(spec, weights, 'ckpt')).toThrow(ModelWeightsError);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY])('refuses a weight of %s, naming the tensor and element', (value) => {
    const { config, weights } = tiny();
    const name = [...weights.keys()].find((k) => k.endsWith('attention.attention.value.weight'))!;
    weights.get(name)!.data[5] = value;
    expect(() => checkWeights(specOf(config, weights), weights, 'ckpt')).toThrow(
      new RegExp(`tensor "${name.replace(/\./g, '\\.')}" holds ${value} at element 5`),
    );
  });
});

describe('parseConfig: sizes are whole numbers in range', () => {
  it.each([
    ['num_hidden_layers', 2.5],
    ['num_hidden_layers', 0],
    ['num_hidden_layers', 1e9],
    ['hidden_size', -32],
    ['intermediate_size', 1.5],
    ['patch_size', 0],
  ])('%s = %s is refused with the key and the value', (key, value) => {
    const { config } = tiny();
    expect(() => parseConfig({ ...config, [key]: value })).toThrow(ConfigError);
    expect(() => parseConfig({ ...config, [key]: value })).toThrow(new RegExp(`"${key}" must be a whole number from 1 to \\d+, got ${value}`));
  });

  it('refuses a patch larger than the image', () => {
    const { config } = tiny();
    expect(() => parseConfig({ ...config, patch_size: (config.image_size as number) * 2 })).toThrow(/patch_size .* is larger than image_size/);
  });
});
