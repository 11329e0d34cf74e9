import { describe, expect, it } from 'vitest';
import { hfJson, makeModel, pythonFloat, tensorStream, type ModelArch } from './makeModel';
import { blockModules, embeddingNames, expectedTensors, HEAD_MODULE } from './names';
import { PRESETS } from './presets';
import { parseConfig } from './spec';

const ARCHS: ModelArch[] = ['vit', 'deit', 'clip'];

function std(a: Float32Array): number {
  let m = 0;
  for (const v of a) m += v;
  m /= a.length;
  let s = 0;
  for (const v of a) s += (v - m) ** 2;
  return Math.sqrt(s / a.length);
}

describe('makeModel: seeded checkpoints in Hugging Face layout', () => {
  for (const arch of ARCHS) {
    for (const head of [true, false]) {
      it(`${arch}${head ? ' with head' : ' bare'}: config parses, tensors are exactly the expected names and shapes`, () => {
        const ck = makeModel({ arch, preset: 'tiny', seed: 1, head });
        const spec = parseConfig(JSON.parse(hfJson(ck.config)), 'config.json', ck.tensors.keys());
        const want = expectedTensors(spec);
        if (head) {
          want.set(`${HEAD_MODULE}.weight`, [10, 32]);
          want.set(`${HEAD_MODULE}.bias`, [10]);
        } else if (arch !== 'clip') {
          want.set('pooler.dense.weight', [32, 32]);
          want.set('pooler.dense.bias', [32]);
        }
        expect([...ck.tensors.keys()].sort()).toEqual([...want.keys()].sort());
        for (const [name, t] of ck.tensors) {
          expect(t.shape, name).toEqual(want.get(name));
          expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
          expect(t.data.every(Number.isFinite)).toBe(true);
        }
        const tiny = PRESETS.tiny;
        expect(spec).toMatchObject({
          family: arch,
          hidden: tiny.hidden,
          layers: tiny.layers,
          heads: tiny.heads,
          intermediate: tiny.intermediate,
          imageSize: tiny.imageSize,
          patchSize: tiny.patchSize,
          channels: tiny.channels,
          act: arch === 'clip' ? 'quick_gelu' : 'gelu',
          eps: arch === 'clip' ? 1e-5 : 1e-12,
          preLayernorm: arch === 'clip',
          patchBias: arch !== 'clip',
          distillationToken: arch === 'deit',
          pooling: arch === 'clip' ? 'mean_patches' : 'cls',
          hasHead: head,
          projectionDim: undefined,
        });
        expect(spec.prefix).toBe(arch === 'clip' ? 'vision_model.' : head ? `${arch}.` : '');
        expect(spec.architecture).toBe(
          { vit: ['ViTForImageClassification', 'ViTModel'], deit: ['DeiTForImageClassification', 'DeiTModel'], clip: ['CLIPForImageClassification', 'CLIPVisionModel'] }[arch][head ? 0 : 1],
        );
        expect(spec.labels).toEqual(head ? Array.from({ length: 10 }, (_, i) => `LABEL_${i}`) : undefined);
        // What the config alone says agrees with what the tensors say.
        const fromConfig = parseConfig(ck.config, 'config.json');
        expect({ ...fromConfig, raw: undefined }).toEqual({ ...spec, raw: undefined });
        expect(ck.spec).toEqual(spec);
      });
    }
  }

  it('is identical for the same seed and differs for another', () => {
    for (const arch of ARCHS) {
      const a = makeModel({ arch, preset: 'micro', seed: 42 });
      const b = makeModel({ arch, preset: 'micro', seed: 42 });
      const c = makeModel({ arch, preset: 'micro', seed: 43 });
      expect(hfJson(a.config)).toBe(hfJson(b.config));
      for (const [name, t] of a.tensors) {
        expect(b.tensors.get(name)!.data).toEqual(t.data);
      }
      const w = `${blockModules(a.spec, 0).query}.weight`;
      expect(c.tensors.get(w)!.data).not.toEqual(a.tensors.get(w)!.data);
    }
  });

  it('each tensor draws from its own stream: a tensor depends only on seed, name and size', () => {
    const one = makeModel({ arch: 'vit', preset: 'micro', seed: 5, dims: { layers: 1 } });
    const two = makeModel({ arch: 'vit', preset: 'micro', seed: 5, dims: { layers: 2 } });
    for (const [name, t] of one.tensors) expect(two.tensors.get(name)!.data, name).toEqual(t.data);
    const q = one.tensors.get('vit.encoder.layer.0.attention.attention.query.weight')!.data;
    const k = one.tensors.get('vit.encoder.layer.0.attention.attention.key.weight')!.data;
    expect(q).not.toEqual(k);
    expect(tensorStream('a')).not.toBe(tensorStream('b'));
  });

  it("'hf' init follows transformers' _init_weights for ViT and CLIP", () => {
    const vit = makeModel({ arch: 'vit', preset: 'small', seed: 3 });
    const e = embeddingNames(vit.spec);
    const b0 = blockModules(vit.spec, 0);
    expect(std(vit.tensors.get(`${b0.fc1}.weight`)!.data)).toBeCloseTo(0.02, 3);
    expect(std(vit.tensors.get(e.patchWeight)!.data)).toBeCloseTo(0.02, 3);
    expect(std(vit.tensors.get(e.position)!.data)).toBeCloseTo(0.02, 2);
    expect(vit.tensors.get(`${b0.fc1}.bias`)!.data.every((v) => v === 0)).toBe(true);
    expect(vit.tensors.get(`${b0.ln1}.weight`)!.data.every((v) => v === 1)).toBe(true);
    expect(vit.tensors.get(`${e.finalLayernorm}.bias`)!.data.every((v) => v === 0)).toBe(true);

    const clip = makeModel({ arch: 'clip', preset: 'small', seed: 3 });
    const D = clip.spec.hidden;
    const L = clip.spec.layers;
    const c0 = blockModules(clip.spec, 0);
    const ce = embeddingNames(clip.spec);
    const inProj = D ** -0.5 * (2 * L) ** -0.5;
    expect(std(clip.tensors.get(`${c0.query}.weight`)!.data) / inProj).toBeCloseTo(1, 1);
    expect(std(clip.tensors.get(`${c0.attnOut}.weight`)!.data) / D ** -0.5).toBeCloseTo(1, 1);
    expect(std(clip.tensors.get(`${c0.fc1}.weight`)!.data) / (2 * D) ** -0.5).toBeCloseTo(1, 1);
    expect(std(clip.tensors.get(`${c0.fc2}.weight`)!.data) / inProj).toBeCloseTo(1, 1);
    expect(std(clip.tensors.get(`${HEAD_MODULE}.weight`)!.data) / D ** -0.5).toBeCloseTo(1, 1);
    expect(std(clip.tensors.get(ce.patchWeight)!.data)).toBeCloseTo(0.02, 3);
    expect(clip.tensors.get(`${c0.query}.bias`)!.data.every((v) => v === 0)).toBe(true);
    expect(clip.tensors.get(`${ce.preLayernorm}.weight`)!.data.every((v) => v === 1)).toBe(true);
  });

  it("'varied' init makes every bias and layernorm non-trivial", () => {
    const ck = makeModel({ arch: 'clip', preset: 'micro', seed: 3, init: 'varied' });
    for (const [name, t] of ck.tensors) {
      const s = std(t.data);
      expect(s, name).toBeGreaterThan(0.01);
    }
    const ln = ck.tensors.get(`${blockModules(ck.spec, 0).ln1}.weight`)!.data;
    expect(Math.abs(ln.reduce((a, v) => a + v, 0) / ln.length - 1)).toBeLessThan(0.1);
  });

  it('labels: a count or names; dims override the preset; bad sizes are refused', () => {
    const named = makeModel({ arch: 'vit', preset: 'micro', labels: ['cat', 'dog', 'café'] });
    expect(named.config.id2label).toEqual({ 0: 'cat', 1: 'dog', 2: 'café' });
    expect(named.config.label2id).toEqual({ cat: 0, dog: 1, café: 2 });
    expect(named.tensors.get('classifier.weight')!.shape).toEqual([3, 16]);
    expect(hfJson(named.config)).toContain('"caf\\u00e9"');
    const twelve = makeModel({ arch: 'clip', preset: 'micro', labels: 12 });
    expect(twelve.spec.labels).toHaveLength(12);
    expect(twelve.tensors.get('classifier.bias')!.shape).toEqual([12]);
    const gray = makeModel({ arch: 'vit', preset: 'tiny', dims: { channels: 1, imageSize: 28, patchSize: 7 } });
    expect(gray.spec.channels).toBe(1);
    expect(gray.tensors.get('vit.embeddings.patch_embeddings.projection.weight')!.shape).toEqual([32, 1, 7, 7]);
    expect(gray.tensors.get('vit.embeddings.position_embeddings')!.shape).toEqual([1, 17, 32]);
    expect(gray.preprocessorConfig.image_mean).toEqual([0.5]);
    expect(() => makeModel({ arch: 'vit', dims: { heads: 5 } })).toThrow(/divisible/);
    expect(() => makeModel({ arch: 'vit', dims: { patchSize: 5 } })).toThrow(/multiple/);
    expect(() => makeModel({ arch: 'vit', labels: 0 })).toThrow(/labels/);
    expect(() => makeModel({ arch: 'vit', labels: ['a', 'a'] })).toThrow(/distinct/);
    expect(() => makeModel({ arch: 'swin' as ModelArch })).toThrow(/unknown arch/);
  });

  it('preprocessor_config.json follows each family’s image processor', () => {
    const vit = makeModel({ arch: 'vit', preset: 'tiny' }).preprocessorConfig;
    expect(vit).toMatchObject({ image_processor_type: 'ViTImageProcessor', size: { height: 32, width: 32 }, image_mean: [0.5, 0.5, 0.5], resample: 2, do_rescale: true });
    const clip = makeModel({ arch: 'clip', preset: 'tiny' }).preprocessorConfig;
    expect(clip).toMatchObject({ image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: 32 }, crop_size: { height: 32, width: 32 }, do_center_crop: true, resample: 3 });
    expect(clip.image_std).toEqual([0.26862954, 0.26130258, 0.27577711]);
    const deit = makeModel({ arch: 'deit', preset: 'tiny' }).preprocessorConfig;
    expect(deit).toMatchObject({ image_processor_type: 'DeiTImageProcessor', image_mean: [0.485, 0.456, 0.406] });
  });
});

describe('hfJson writes JSON as transformers does (indent 2, sorted keys, Python floats, ASCII)', () => {
  it('formats floats as Python repr', () => {
    const cases: [number, string][] = [
      [0, '0.0'],
      [1, '1.0'],
      [0.02, '0.02'],
      [1e-5, '1e-05'],
      [1e-12, '1e-12'],
      [0.0001, '0.0001'],
      [0.00001234, '1.234e-05'],
      [2.6592, '2.6592'],
      [1 / 255, '0.00392156862745098'],
      [123.5, '123.5'],
      [1e16, '1e+16'],
      [1.5e16, '1.5e+16'],
      [123456789012345.6, '123456789012345.6'],
      [-0.5, '-0.5'],
    ];
    for (const [x, want] of cases) expect(pythonFloat(x), String(x)).toBe(want);
  });

  it('sorts keys as strings and puts list items on their own lines', () => {
    const s = hfJson({ b: 1, a: { '10': 'x', '2': 'y', '1': 'z' }, layer_norm_eps: 1e-5, image_mean: [0.5, 1], e: [], f: {}, t: true, n: null });
    expect(s).toBe(
      '{\n  "a": {\n    "1": "z",\n    "10": "x",\n    "2": "y"\n  },\n  "b": 1,\n  "e": [],\n  "f": {},\n  "image_mean": [\n    0.5,\n    1.0\n  ],\n  "layer_norm_eps": 1e-05,\n  "n": null,\n  "t": true\n}\n',
    );
  });
});

describe('parseConfig reads configs transformers saves', () => {
  it('a CLIPModel whose vision_config was saved as a diff (defaults left out)', () => {
    const spec = parseConfig({ architectures: ['CLIPModel'], model_type: 'clip', projection_dim: 512, vision_config: { model_type: 'clip_vision_model' } });
    expect(spec).toMatchObject({ family: 'clip', hidden: 768, layers: 12, heads: 12, intermediate: 3072, imageSize: 224, patchSize: 32, eps: 1e-5, act: 'quick_gelu', projectionDim: 512 });
  });

  it('DeiT without a tensor list: the distillation token is always there', () => {
    const deit = parseConfig({ architectures: ['DeiTForImageClassification'], model_type: 'deit', hidden_size: 16, num_attention_heads: 2, num_hidden_layers: 1, intermediate_size: 32 });
    expect(deit.distillationToken).toBe(true);
    expect(deit.prefix).toBe('deit.');
    expect(parseConfig({ ...deit.raw, architectures: ['DeiTModel'] }).prefix).toBe('');
  });
});
