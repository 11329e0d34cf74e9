/**
 * Writes a tiny model folder in Hugging Face layout for io tests: a ViT config and a handful of
 * tensors under ViT's Hugging Face names, seeded, optionally sharded or in F16/BF16. It is not a
 * complete network (the models layer has its own generator); it exercises the file formats.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomArray } from '../../engine/random';
import type { WritableDtype } from '../dtype';
import { writeSafetensors, type TensorToWrite } from '../safetensors';

export const TINY_VIT_CONFIG = {
  architectures: ['ViTForImageClassification'],
  model_type: 'vit',
  hidden_size: 8,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 16,
  image_size: 8,
  patch_size: 4,
  num_channels: 3,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-12,
  id2label: { '0': 'a', '1': 'b', '2': 'c' },
  label2id: { a: 0, b: 1, c: 2 },
};

export function tinyVitTensors(seed = 1, dtype: WritableDtype = 'F32'): Map<string, TensorToWrite> {
  const shapes: Record<string, number[]> = {
    'vit.embeddings.cls_token': [1, 1, 8],
    'vit.embeddings.position_embeddings': [1, 5, 8],
    'vit.embeddings.patch_embeddings.projection.weight': [8, 3, 4, 4],
    'vit.embeddings.patch_embeddings.projection.bias': [8],
    'vit.encoder.layer.0.attention.attention.query.weight': [8, 8],
    'vit.encoder.layer.0.attention.attention.query.bias': [8],
    'vit.encoder.layer.0.intermediate.dense.weight': [16, 8],
    'vit.layernorm.weight': [8],
    'classifier.weight': [3, 8],
    'classifier.bias': [3],
  };
  const out = new Map<string, TensorToWrite>();
  let stream = 0;
  for (const [name, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from(randomArray(n, seed, 0x7e57 + stream++, { kind: 'normal', std: 0.5 }));
    out.set(name, { shape, data, dtype });
  }
  return out;
}

export interface WriteTinyOptions {
  seed?: number;
  dtype?: WritableDtype;
  /** Split the tensors over this many shards with model.safetensors.index.json. */
  shards?: number;
  preprocessor?: Record<string, unknown>;
}

/** Writes config.json and the weights into `dir`; returns the tensors written. */
export async function writeTinyCheckpoint(dir: string, options: WriteTinyOptions = {}): Promise<Map<string, TensorToWrite>> {
  await mkdir(dir, { recursive: true });
  const tensors = tinyVitTensors(options.seed ?? 1, options.dtype ?? 'F32');
  await writeFile(join(dir, 'config.json'), JSON.stringify(TINY_VIT_CONFIG, null, 2));
  if (options.preprocessor) await writeFile(join(dir, 'preprocessor_config.json'), JSON.stringify(options.preprocessor));
  const shards = options.shards ?? 1;
  if (shards <= 1) {
    await writeFile(join(dir, 'model.safetensors'), writeSafetensors(tensors, { metadata: { format: 'pt' } }));
    return tensors;
  }
  const names = [...tensors.keys()];
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = new Map(names.filter((_, i) => i % shards === s).map((n) => [n, tensors.get(n)!]));
    for (const n of part.keys()) weightMap[n] = file;
    const bytes = writeSafetensors(part, { metadata: { format: 'pt' } });
    total += bytes.length;
    await writeFile(join(dir, file), bytes);
  }
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  return tensors;
}
