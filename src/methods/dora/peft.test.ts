/**
 * DoRA exports as PEFT writes it (LoraConfig with use_dora: true; the magnitude under
 * `<module>.lora_magnitude_vector.weight`, PEFT's state-dict key with the adapter name removed),
 * PEFT's formula on the file's tensors gives the merged weights, and the file imports back as
 * DoRA (not LoRA) with identical logits.
 */
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../io/safetensors';
import { MemorySource } from '../../io/sources/memory';
import { exportAdapterFiles } from '../../io/peft/exportAdapter';
import { loadAdapterInto, readAdapter } from '../../io/peft/importAdapter';
import { LABELS, logitsOf, maxAbs, maxAbsDiff, testCheckpoint, testImages, testRun } from '../../io/peft/testRun';
import { useGpu } from '../../testing/gpu';

const gpu = useGpu();
const made = testCheckpoint();
const images = testImages(made.spec.imageSize);
const info = { baseModel: 'org/vit-micro', labels: LABELS, peftNaming: 'transformers4' as const };

describe('DoRA through PEFT', () => {
  it('writes use_dora and lora_magnitude_vector; the file rebuilds W\'; import gives identical logits', async () => {
    const { ctx } = gpu();
    const cfg = { r: 3, alpha: 6, rslora: false };
    const run = testRun(ctx, made, 'dora', cfg, ['query', 'value'], { perturb: 50 });
    const files = await exportAdapterFiles(run, info);
    const config = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')!)) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'LORA', use_dora: true, r: 3, lora_alpha: 6, use_rslora: false });
    const tensors = readSafetensors(files.get('adapter_model.safetensors')!).tensors;

    for (const [module, layer] of run.adapters.layers) {
      const p = `base_model.model.${module}`;
      const A = tensors.get(`${p}.lora_A.weight`)!;
      const B = tensors.get(`${p}.lora_B.weight`)!;
      const m = tensors.get(`${p}.lora_magnitude_vector.weight`)!;
      expect(m.shape).toEqual([layer.shape.out]);
      // PEFT's merge (dora.py): W' = m / ‖W0 + s·B·A‖_row ⊙ (W0 + s·B·A), s = lora_alpha / r.
      const W0 = made.tensors.get(`${module}.weight`)!.data;
      const [O, I, r, s] = [layer.shape.out, layer.shape.in, 3, 6 / 3];
      const want = new Float64Array(O * I);
      for (let o = 0; o < O; o++) {
        let norm = 0;
        for (let i = 0; i < I; i++) {
          let ba = 0;
          for (let k = 0; k < r; k++) ba += B.data[o * r + k] * A.data[k * I + i];
          want[o * I + i] = W0[o * I + i] + s * ba;
          norm += want[o * I + i] ** 2;
        }
        for (let i = 0; i < I; i++) want[o * I + i] *= m.data[o] / Math.sqrt(norm);
      }
      const merged = layer.merge(run.model.param(`${module}.weight`));
      const got = await merged.read();
      merged.release();
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-5 * Math.max(1, maxAbs(want)));
    }

    const adapter = await readAdapter(new MemorySource(files, 'the export'));
    expect(adapter.method).toBe('dora');
    expect(adapter.runConfig.methodConfig).toEqual(cfg);
    const fresh = testRun(ctx, made, 'dora', adapter.runConfig.methodConfig, adapter.runConfig.targets);
    await loadAdapterInto(fresh, adapter);
    expect(maxAbsDiff(await logitsOf(fresh, images), await logitsOf(run, images))).toBe(0);
    fresh.release();
    run.release();
  });
});
