/**
 * Merged exports for every kind of run and base checkpoint: config.json exactly as transformers
 * writes the classification model's (compared with makeModel's), tensors under the
 * classification model's names, and the same logits after loading back.
 */
import { describe, expect, it } from 'vitest';
import { hfJson, makeModel, type ModelArch } from '../../models/makeModel';
import { parseConfig } from '../../models/spec';
import { VisionTransformer } from '../../models/vision';
import { testData, useGpu } from '../../testing/gpu';
import { loadCheckpoint } from '../checkpoint';
import { readSafetensors } from '../safetensors';
import { MemorySource } from '../sources/memory';
import { exportAdapterFiles, hasAdapterExport } from './exportAdapter';
import { exportMergedFiles } from './exportMerged';
import { exportMergedZip } from './index';
import { unzipToSource } from './zip';
import { LABELS, logitsOf, maxAbs, maxAbsDiff, testImages, testRun } from './testRun';

const gpu = useGpu();
const NEW_LABELS = ['ant', 'bee', 'wasp'];

function checkpoint(arch: ModelArch, head: boolean) {
  return makeModel({ arch, preset: 'micro', seed: 5, init: 'varied', labels: [...LABELS], head });
}

async function loadBack(files: Map<string, Uint8Array>) {
  const ckpt = await loadCheckpoint(new MemorySource(files, 'merged export'));
  const spec = parseConfig(ckpt.config, 'config.json', ckpt.tensors.keys());
  return { ckpt, spec, model: new VisionTransformer(gpu().ctx, spec, ckpt.tensors, { numLabels: spec.labels!.length }) };
}

describe('merged export', () => {
  it("LoRA on a bare ViTModel: the adapter and the merged model use ViTForImageClassification's names", async () => {
    const { ctx } = gpu();
    const made = checkpoint('vit', false);
    expect(made.spec.prefix).toBe('');
    const run = testRun(ctx, made, 'lora', { r: 2, alpha: 4, rslora: true }, ['value'], { perturb: 50 });
    const info = { baseModel: 'org/vit-micro-backbone', labels: NEW_LABELS };

    const adapter = readSafetensors((await exportAdapterFiles(run, info)).get('adapter_model.safetensors')!).tensors;
    expect([...adapter.keys()].sort()).toEqual([
      'base_model.model.classifier.bias',
      'base_model.model.classifier.weight',
      'base_model.model.vit.layers.0.attention.v_proj.lora_A.weight',
      'base_model.model.vit.layers.0.attention.v_proj.lora_B.weight',
      'base_model.model.vit.layers.1.attention.v_proj.lora_A.weight',
      'base_model.model.vit.layers.1.attention.v_proj.lora_B.weight',
    ]);

    const files = await exportMergedFiles(run, info);
    expect([...files.keys()].sort()).toEqual(['config.json', 'model.safetensors', 'preprocessor_config.json']);
    const want = makeModel({ arch: 'vit', preset: 'micro', labels: NEW_LABELS, head: true });
    expect(new TextDecoder().decode(files.get('config.json'))).toBe(hfJson(want.config));
    expect(new TextDecoder().decode(files.get('preprocessor_config.json'))).toBe(hfJson(want.preprocessorConfig));
    const names = [...readSafetensors(files.get('model.safetensors')!).tensors.keys()].sort();
    expect(names).toEqual([...want.tensors.keys()].sort());

    const back = await loadBack(files);
    expect(back.spec).toMatchObject({ architecture: 'ViTForImageClassification', prefix: 'vit.', labels: NEW_LABELS, hasHead: true });
    const images = testImages(made.spec.imageSize);
    const before = await logitsOf(run, images);
    expect(maxAbsDiff(await logitsOf({ model: back.model, adapters: run.adapters }, images, false), before)).toBeLessThan(1e-4 * Math.max(1, maxAbs(before)));
    back.model.release();
    run.release();
  });

  it.each([
    ['clip', 'full', false],
    ['deit', 'probe', true],
  ] as const)('%s, %s: W as trained, config as transformers writes it, same logits', async (arch, method, head) => {
    const { ctx } = gpu();
    const made = checkpoint(arch, head);
    const run = testRun(ctx, made, method, {}, [], { perturb: 60 });
    expect(hasAdapterExport(method)).toBe(false);
    await expect(exportAdapterFiles(run, { baseModel: 'x', labels: NEW_LABELS })).rejects.toThrow(/export the merged model/);
    if (method === 'full') {
      // Full fine-tuning moved backbone weights: move a few, as training would.
      let s = 70;
      for (const [name, t] of run.model.params) {
        if (/layer(s)?\.1\.|layer_?norm/.test(name)) ctx.upload(t.buffer, Float32Array.from(testData(t.size, s++, -0.5, 0.5)));
      }
    }
    const preprocessor = { ...made.preprocessorConfig, image_mean: [0.1, 0.2, 0.3] };
    const zip = await exportMergedZip(run, { baseModel: `org/${arch}-micro`, labels: NEW_LABELS, preprocessor });
    const source = unzipToSource(zip, 'merged.zip');
    const files = new Map<string, Uint8Array>();
    for (const f of (await source.list())!) files.set(f, await source.readBytes(f));
    const want = makeModel({ arch, preset: 'micro', labels: NEW_LABELS, head: true });
    expect(new TextDecoder().decode(files.get('config.json'))).toBe(hfJson(want.config));
    expect(JSON.parse(new TextDecoder().decode(files.get('preprocessor_config.json')))).toEqual(preprocessor);
    expect([...readSafetensors(files.get('model.safetensors')!).tensors.keys()].sort()).toEqual([...want.tensors.keys()].sort());

    const back = await loadBack(files);
    expect(back.spec.architecture).toBe(arch === 'clip' ? 'CLIPForImageClassification' : 'DeiTForImageClassification');
    expect(back.ckpt.preprocessor.mean).toEqual([0.1, 0.2, 0.3]);
    const images = testImages(made.spec.imageSize);
    const before = await logitsOf(run, images);
    expect(maxAbsDiff(await logitsOf({ model: back.model, adapters: run.adapters }, images, false), before)).toBe(0);
    back.model.release();
    run.release();
  });
});
