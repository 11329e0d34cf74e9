/**
 * PEFT export and import, checked against PEFT's rules as read in its source, not against our
 * exporter: the expected key list, the formulas that rebuild ΔW and the config fields are all
 * written out here independently (huggingface/peft: utils/save_and_load.py, tuners/lora,
 * tuners/vera/layer.py get_delta_weight, tuners/randlora/layer.py get_scaled_bases,
 * tuners/randlora/model.py _find_dim).
 */
import { describe, expect, it } from 'vitest';
import { METHODS } from '../../methods/registry';
import { loadCheckpoint } from '../checkpoint';
import { readSafetensors, writeSafetensors, type LoadedTensor } from '../safetensors';
import { MemorySource } from '../sources/memory';
import { parseConfig } from '../../models/spec';
import { VisionTransformer } from '../../models/vision';
import { testData, useGpu } from '../../testing/gpu';
import { makeModel } from '../../models/makeModel';
import { AdapterImportError } from './config';
import { exportAdapterFiles } from './exportAdapter';
import { exportMergedFiles } from './exportMerged';
import { loadAdapterInto, readAdapter, readAdapterZip } from './importAdapter';
import { exportAdapterZip } from './index';
import { LABELS, logitsOf, maxAbs, maxAbsDiff, testCheckpoint, testImages, testRun } from './testRun';

const gpu = useGpu();
const BASE = 'org/vit-micro';
const info = { baseModel: BASE, labels: LABELS };
const made = testCheckpoint();
const images = testImages(made.spec.imageSize);
const D = made.spec.hidden; // 16
const F = made.spec.intermediate; // 32

// ---------------------------------------------------------------------------------------------
// PEFT's rules, written out for a two-layer ViTForImageClassification.

type Naming = 'transformers4' | 'transformers5';

/**
 * (module as PEFT names it, checkpoint module, out, in) of every linear layer PEFT's suffix rule
 * matches for these targets, in ViTForImageClassification as transformers 4 or 5 builds it.
 */
function peftTargets(targets: string[], naming: Naming): Array<[string, string, number, number]> {
  const out: Array<[string, string, number, number]> = [];
  for (let i = 0; i < 2; i++) {
    const v4 = `vit.encoder.layer.${i}`;
    const v5 = `vit.layers.${i}`;
    const all: Array<[string, string, number, number]> = [
      [`${v5}.attention.q_proj`, `${v4}.attention.attention.query`, D, D],
      [`${v5}.attention.k_proj`, `${v4}.attention.attention.key`, D, D],
      [`${v5}.attention.v_proj`, `${v4}.attention.attention.value`, D, D],
      [`${v5}.attention.o_proj`, `${v4}.attention.output.dense`, D, D],
      [`${v5}.mlp.fc1`, `${v4}.intermediate.dense`, F, D],
      [`${v5}.mlp.fc2`, `${v4}.output.dense`, D, F],
    ];
    for (const [m5, m4, O, I] of all) {
      const m = naming === 'transformers5' ? m5 : m4;
      if (targets.some((t) => m === t || m.endsWith(`.${t}`))) out.push([m, m4, O, I]);
    }
  }
  return out;
}

/** get_peft_model_state_dict's keys and shapes, adapter name removed. */
function expectedKeys(method: 'lora' | 'vera' | 'randlora', r: number, targets: string[], naming: Naming): Map<string, number[]> {
  const layers = peftTargets(targets, naming);
  const keys = new Map<string, number[]>();
  const maxOut = Math.max(...layers.map((l) => l[2]));
  const maxIn = Math.max(...layers.map((l) => l[3]));
  for (const [m, , O, I] of layers) {
    const p = `base_model.model.${m}`;
    if (method === 'lora') {
      keys.set(`${p}.lora_A.weight`, [r, I]); // nn.Linear(I, r).weight
      keys.set(`${p}.lora_B.weight`, [O, r]);
    } else if (method === 'vera') {
      keys.set(`${p}.vera_lambda_b`, [O]);
      keys.set(`${p}.vera_lambda_d`, [r]);
    } else {
      const nb = Math.ceil(Math.min(I, O) / r);
      keys.set(`${p}.randlora_lambda`, [r, nb]);
      keys.set(`${p}.randlora_gamma`, [nb, Math.min(I, O)]);
    }
  }
  if (method === 'vera') {
    keys.set('base_model.vera_A', [r, maxIn]);
    keys.set('base_model.vera_B', [maxOut, r]);
  }
  if (method === 'randlora') {
    // _find_dim: elementwise max of (out, in), then min/max of that pair.
    const minDim = Math.min(maxOut, maxIn);
    const maxDim = Math.max(maxOut, maxIn);
    keys.set('base_model.randlora_A', [r, 1, minDim]);
    keys.set('base_model.randlora_B', [maxDim, Math.ceil(minDim / r), r]);
  }
  // ModulesToSaveWrapper: the head under its own name.
  keys.set('base_model.model.classifier.weight', [LABELS.length, D]);
  keys.set('base_model.model.classifier.bias', [LABELS.length]);
  return keys;
}

// Small float64 tensor helpers for the formulas below.
type T64 = { shape: number[]; data: Float64Array };
const t64 = (t: LoadedTensor): T64 => ({ shape: t.shape, data: Float64Array.from(t.data) });
function mm(a: T64, b: T64): T64 {
  const [n, k] = a.shape;
  const [k2, m] = b.shape;
  if (k !== k2) throw new Error(`mm ${a.shape} x ${b.shape}`);
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let p = 0; p < k; p++) for (let j = 0; j < m; j++) c[i * m + j] += a.data[i * k + p] * b.data[p * m + j];
  return { shape: [n, m], data: c };
}
const tr = (a: T64): T64 => {
  const [n, m] = a.shape;
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) c[j * n + i] = a.data[i * m + j];
  return { shape: [m, n], data: c };
};
const scaled = (a: T64, s: number): T64 => ({ shape: a.shape, data: a.data.map((v) => v * s) });

/** ΔW of one layer from the exported tensors and config only, by PEFT's formula for the method. */
function peftDeltaW(method: string, cfg: Record<string, unknown>, sd: Map<string, LoadedTensor>, module: string, O: number, I: number): T64 {
  const p = `base_model.model.${module}`;
  const r = cfg.r as number;
  if (method === 'lora') {
    const s = (cfg.lora_alpha as number) / (cfg.use_rslora ? Math.sqrt(r) : r);
    return scaled(mm(t64(sd.get(`${p}.lora_B.weight`)!), t64(sd.get(`${p}.lora_A.weight`)!)), s);
  }
  if (method === 'vera') {
    // (lambda_b[:, None] * vera_B[:O, :]) @ (lambda_d[:, None] * vera_A[:, :I])
    const A = sd.get('base_model.vera_A')!;
    const B = sd.get('base_model.vera_B')!;
    const lb = sd.get(`${p}.vera_lambda_b`)!.data;
    const ld = sd.get(`${p}.vera_lambda_d`)!.data;
    const left: T64 = { shape: [O, r], data: new Float64Array(O * r) };
    for (let o = 0; o < O; o++) for (let k = 0; k < r; k++) left.data[o * r + k] = lb[o] * B.data[o * B.shape[1] + k];
    const right: T64 = { shape: [r, I], data: new Float64Array(r * I) };
    for (let k = 0; k < r; k++) for (let i = 0; i < I; i++) right.data[k * I + i] = ld[k] * A.data[k * A.shape[1] + i];
    return mm(left, right);
  }
  // RandLoRA, following get_scaled_bases / get_delta_weight step by step.
  const A = sd.get('base_model.randlora_A')!; // (r, 1, minDim)
  const B = sd.get('base_model.randlora_B')!; // (maxDim, numBases, r)
  const lambda = sd.get(`${p}.randlora_lambda`)!.data; // (r, nb)
  const gamma = sd.get(`${p}.randlora_gamma`)!.data; // (nb, m)
  const m = Math.min(I, O);
  const M = Math.max(I, O);
  const nb = Math.ceil(m / r);
  // sliced_B = randlora_B[:M, :nb, :]; update_B = sliced_B.flatten(start_dim=1): (M, nb*r)
  const updB: T64 = { shape: [M, nb * r], data: new Float64Array(M * nb * r) };
  for (let i = 0; i < M; i++) for (let n = 0; n < nb; n++) for (let k = 0; k < r; k++) updB.data[i * nb * r + n * r + k] = B.data[(i * B.shape[1] + n) * r + k];
  // sliced_A = randlora_A[:, :nb, :m] (dim 1 has size 1); lambda[:, :, None] * sliced_A * gamma[None] -> (r, nb, m) -> (r*nb, m)
  const updA: T64 = { shape: [r * nb, m], data: new Float64Array(r * nb * m) };
  for (let k = 0; k < r; k++) for (let n = 0; n < nb; n++) for (let c = 0; c < m; c++) updA.data[(k * nb + n) * m + c] = lambda[k * nb + n] * A.data[k * A.shape[2] + c] * gamma[n * m + c];
  // get_scaled_bases returns (update_A, update_B) when min_dim == in_features, else (update_B.T, update_A.T);
  // get_delta_weight unpacks them as (update_B, update_A) and forms (update_B.T @ update_A.T).T.
  const [first, second] = m === I ? [updA, updB] : [tr(updB), tr(updA)];
  return scaled(tr(mm(tr(first), tr(second))), (cfg.randlora_alpha as number) / r);
}

async function mergedRun(files: Map<string, Uint8Array>) {
  const ckpt = await loadCheckpoint(new MemorySource(files, 'merged export'));
  const spec = parseConfig(ckpt.config, 'config.json', ckpt.tensors.keys());
  const model = new VisionTransformer(gpu().ctx, spec, ckpt.tensors, { numLabels: spec.labels!.length });
  return { ckpt, spec, model };
}

// `targets` are the run's (our model's names); `peft` what a PEFT user of that transformers
// version writes as target_modules for the same layers.
const CASES = [
  { method: 'lora', naming: 'transformers4', cfg: { r: 4, alpha: 8, rslora: false }, targets: ['query', 'value', 'output.dense'], peft: ['output.dense', 'query', 'value'] },
  {
    method: 'vera',
    naming: 'transformers5',
    cfg: { r: 8, dInitial: 0.1 },
    targets: ['query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'],
    peft: ['fc1', 'fc2', 'k_proj', 'o_proj', 'q_proj', 'v_proj'],
  },
  { method: 'randlora', naming: 'transformers5', cfg: { r: 6, alpha: 24 }, targets: ['query', 'value', 'intermediate.dense', 'output.dense'], peft: ['fc1', 'fc2', 'o_proj', 'q_proj', 'v_proj'] },
  { method: 'randlora', naming: 'transformers4', cfg: { r: 6, alpha: 24 }, targets: ['query', 'value', 'intermediate.dense', 'output.dense'], peft: ['intermediate.dense', 'output.dense', 'query', 'value'] },
] as const;

describe.each(CASES)('$method, $naming names: PEFT export', ({ method, naming, cfg, targets, peft }) => {
  it("writes PEFT's keys, shapes and config; PEFT's formula on the file rebuilds the merged weights; import gives identical logits", async () => {
    const { ctx } = gpu();
    const run = testRun(ctx, made, method, cfg, [...targets], { perturb: 100 });
    const files = await exportAdapterFiles(run, { ...info, peftNaming: naming });
    expect([...files.keys()].sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors', 'rankscope_run.json', 'rankscope_train.json', 'requirements.txt', 'train_peft.py']);

    // Keys and shapes as PEFT would save them.
    const sd = readSafetensors(files.get('adapter_model.safetensors')!);
    const want = expectedKeys(method, cfg.r, [...peft], naming);
    expect(new Map([...sd.tensors].map(([k, t]) => [k, t.shape]))).toEqual(want);
    expect([...sd.tensors.values()].every((t) => t.dtype === 'F32')).toBe(true);
    expect(sd.metadata).toEqual({ format: 'pt' });

    // adapter_config.json: PEFT's json.dumps(indent=2, sort_keys=True), no trailing newline.
    const text = new TextDecoder().decode(files.get('adapter_config.json'));
    expect(text.endsWith('}')).toBe(true);
    const config = JSON.parse(text) as Record<string, unknown>;
    const keys = Object.keys(config);
    expect(keys).toEqual([...keys].sort());
    expect(config).toMatchObject({
      base_model_name_or_path: BASE,
      peft_version: '0.21.0',
      task_type: null,
      inference_mode: true,
      modules_to_save: ['classifier'],
      bias: 'none',
      r: cfg.r,
      auto_mapping: { base_model_class: 'ViTForImageClassification', parent_library: 'transformers.models.vit.modeling_vit' },
    });
    expect(config.target_modules).toEqual(peft);
    if (method === 'lora') {
      expect(config).toMatchObject({ peft_type: 'LORA', lora_alpha: 8, use_rslora: false, init_lora_weights: true, fan_in_fan_out: false });
      expect(text).toContain('"lora_dropout": 0.0');
    } else if (method === 'vera') {
      expect(config).toMatchObject({ peft_type: 'VERA', save_projection: true, projection_prng_key: 3, d_initial: 0.1 });
      expect(text).toContain('"vera_dropout": 0.0');
    } else {
      expect(config).toMatchObject({ peft_type: 'RANDLORA', save_projection: true, projection_prng_key: 3, randlora_alpha: 24, sparse: false, very_sparse: false });
      expect(text).toContain('"randlora_dropout": 0.0');
    }

    // The merged checkpoint holds W + ΔW with ΔW from PEFT's formula applied to the file.
    const merged = await exportMergedFiles(run, info);
    const mergedSd = readSafetensors(merged.get('model.safetensors')!).tensors;
    const failures: string[] = [];
    for (const [module, checkpointModule, O, I] of peftTargets([...peft], naming)) {
      const dW = peftDeltaW(method, config, sd.tensors, module, O, I);
      const W0 = made.tensors.get(`${checkpointModule}.weight`)!.data;
      const W1 = mergedSd.get(`${checkpointModule}.weight`)!.data;
      const got = Float64Array.from(W1, (v, i) => v - W0[i]);
      const err = maxAbsDiff(got, dW.data) / maxAbs(dW.data);
      if (!(maxAbs(dW.data) > 1e-3 && err < 1e-4)) failures.push(`${module}: |ΔW| ${maxAbs(dW.data)}, relative error ${err}`);
    }
    expect(failures).toEqual([]);

    // The merged checkpoint loads through loadCheckpoint + VisionTransformer and gives the run's logits.
    const want0 = await logitsOf(run, images);
    const m = await mergedRun(merged);
    expect(m.spec.labels).toEqual(LABELS);
    expect(maxAbsDiff(await logitsOf({ model: m.model, adapters: run.adapters }, images, false), want0)).toBeLessThan(1e-4 * Math.max(1, maxAbs(want0)));
    m.model.release();

    // Import onto a fresh run of the same base model: identical logits.
    const adapter = await readAdapterZip(await exportAdapterZip(run, { ...info, peftNaming: naming }));
    expect(adapter.naming).toBe(naming);
    expect(adapter.runConfig.method).toBe(method);
    expect(adapter.labels).toEqual(LABELS);
    const fresh = testRun(ctx, made, method, adapter.runConfig.methodConfig, adapter.runConfig.targets, { seed: adapter.runConfig.seed });
    const report = await loadAdapterInto(fresh, adapter, { baseModel: BASE });
    expect(report.basesReplaced).toEqual([]);
    expect(maxAbsDiff(await logitsOf(fresh, images), want0)).toBe(0);
    fresh.release();
    run.release();
  });
});

describe('import refuses what does not fit, saying which', () => {
  it('another method, base model, settings, layers, classes or shapes', async () => {
    const { ctx } = gpu();
    const run = testRun(ctx, made, 'randlora', { r: 6, alpha: 24 }, ['query', 'value'], { perturb: 7 });
    const files = await exportAdapterFiles(run, info);
    const adapter = await readAdapter(new MemorySource(files, 'the export'));
    const refusal = async (target: Parameters<typeof loadAdapterInto>[0], opts = {}, a = adapter) => {
      try {
        await loadAdapterInto(target, a, opts);
      } catch (e) {
        expect(e).toBeInstanceOf(AdapterImportError);
        return e as AdapterImportError;
      }
      throw new Error('import was not refused');
    };

    const lora = testRun(ctx, made, 'lora', { r: 4, alpha: 8, rslora: false }, ['query', 'value']);
    const e1 = await refusal(lora);
    expect(e1.reason).toBe('method');
    expect(e1.message).toMatch(/RandLoRA adapter.*trains with LoRA/);
    lora.release();

    const same = testRun(ctx, made, 'randlora', { r: 6, alpha: 24 }, ['query', 'value']);
    const e2 = await refusal(same, { baseModel: 'org/another-vit' });
    expect(e2.reason).toBe('base-model');
    expect(e2.message).toContain('"org/vit-micro"');
    expect(e2.message).toContain('"org/another-vit"');
    // The same model under another name is accepted when asked, and shapes are still checked.
    await loadAdapterInto(same, adapter, { baseModel: 'org/another-vit', ignoreBaseModelName: true });
    same.release();

    const alpha = testRun(ctx, made, 'randlora', { r: 6, alpha: 12 }, ['query', 'value']);
    const e3 = await refusal(alpha);
    expect(e3.reason).toBe('config');
    expect(e3.message).toMatch(/alpha = 24.*alpha = 12/);
    alpha.release();

    const layers = testRun(ctx, made, 'randlora', { r: 6, alpha: 24 }, ['query', 'key', 'value']);
    const e4 = await refusal(layers);
    expect(e4.reason).toBe('targets');
    expect(e4.message).toContain('vit.layers.0.attention.k_proj');
    layers.release();

    const classes = testRun(ctx, made, 'randlora', { r: 6, alpha: 24 }, ['query', 'value'], { numLabels: 5 });
    const e5 = await refusal(classes);
    expect(e5.reason).toBe('labels');
    expect(e5.message).toMatch(/3 classes.*5 classes/);
    classes.release();

    // A file whose layer has another shape (as one trained on another base model would).
    const sd = readSafetensors(files.get('adapter_model.safetensors')!).tensors;
    const key = 'base_model.model.vit.layers.1.attention.v_proj.randlora_gamma';
    const g = sd.get(key)!;
    sd.set(key, { ...g, shape: [g.shape[0], g.shape[1] * 2], data: new Float32Array(g.data.length * 2) });
    const tampered = new Map(files);
    tampered.set('adapter_model.safetensors', writeSafetensors(new Map([...sd].map(([k, t]) => [k, { shape: t.shape, data: t.data }]))));
    const bad = await readAdapter(new MemorySource(tampered, 'the tampered export'));
    const fits = testRun(ctx, made, 'randlora', { r: 6, alpha: 24 }, ['query', 'value']);
    const e6 = await refusal(fits, {}, bad);
    expect(e6.reason).toBe('shape');
    expect(e6.message).toContain(key);
    expect(e6.message).toContain('[3, 32]');

    // A NaN anywhere in the file is refused, naming the tensor.
    const poisoned = new Map(sd);
    const lam = 'base_model.model.vit.layers.0.attention.q_proj.randlora_lambda';
    const nan = Float32Array.from(poisoned.get(lam)!.data);
    nan[2] = Number.NaN;
    poisoned.set(key, g);
    poisoned.set(lam, { ...poisoned.get(lam)!, data: nan });
    const withNaN = new Map(files);
    withNaN.set('adapter_model.safetensors', writeSafetensors(new Map([...poisoned].map(([k, t]) => [k, { shape: t.shape, data: t.data }]))));
    const e7 = await refusal(fits, {}, await readAdapter(new MemorySource(withNaN, 'the NaN export')));
    expect(e7.reason).toBe('format');
    expect(e7.message).toMatch(new RegExp(`^the NaN export: ${lam.replace(/\./g, '\\.')} holds NaN at element 2, .*makes every prediction NaN`));

    // target_modules that name no layer of this model (a file written with transformers 4 names, whose list is read as is).
    const v4 = await exportAdapterFiles(run, { ...info, peftNaming: 'transformers4' });
    const cfg = JSON.parse(new TextDecoder().decode(v4.get('adapter_config.json')!));
    cfg.target_modules = ['q_lin', 'v_lin'];
    const renamed = new Map(v4);
    renamed.set('adapter_config.json', new TextEncoder().encode(JSON.stringify(cfg)));
    const e8 = await refusal(fits, {}, await readAdapter(new MemorySource(renamed, 'the DistilBERT-named export')));
    expect(e8.reason).toBe('targets');
    expect(e8.message).toMatch(/^the DistilBERT-named export: target_modules \["q_lin","v_lin"\] in adapter_config\.json matches no layer of this model, whose linear layers end in e\.g\. attention\.query, attention\.key/);
    // The same file with its own list imports.
    await loadAdapterInto(fits, await readAdapter(new MemorySource(v4, 'the v4 export')));

    // Saved bases that differ from the run's (another seed) replace them, as PEFT's save_projection means.
    const otherSeed = testRun(ctx, made, 'randlora', { r: 6, alpha: 24 }, ['query', 'value'], { seed: 11 });
    const report = await loadAdapterInto(otherSeed, adapter);
    expect(report.basesReplaced).toEqual(['base_model.randlora_A', 'base_model.randlora_B']);
    expect(maxAbsDiff(await logitsOf(otherSeed, images), await logitsOf(run, images))).toBe(0);
    otherSeed.release();
    fits.release();
    run.release();
  });
});

describe('a zero-shot-head run (CLIP)', () => {
  it("exports PEFT's files for CLIPModel with the head beside them, and imports back to identical logits; a linear-head run refuses it", async () => {
    const { ctx } = gpu();
    const clip = makeModel({ arch: 'clip', preset: 'micro', seed: 5, init: 'varied', labels: [...LABELS], text: true });
    const P = clip.spec.projectionDim!;
    const head = { weight: Float32Array.from(testData(LABELS.length * P, 41, -3, 3)) };
    const run = testRun(ctx, clip, 'lora', { r: 2, alpha: 4, rslora: false }, ['q_proj', 'v_proj'], { perturb: 9, zeroShot: head });
    const files = await exportAdapterFiles(run, { baseModel: 'org/clip-micro', labels: LABELS });
    expect(files.has('zero_shot_head.safetensors')).toBe(true);
    const sd = readSafetensors(files.get('adapter_model.safetensors')!).tensors;
    // No head under modules_to_save: PEFT could not place a (classes × projection_dim) classifier on any CLIP class.
    expect([...sd.keys()].filter((k) => k.includes('classifier'))).toEqual([]);
    expect([...sd.keys()].every((k) => k.startsWith('base_model.model.vision_model.encoder.layers.'))).toBe(true);
    const config = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json'))) as Record<string, unknown>;
    expect(config.modules_to_save).toBeNull();
    expect(config.auto_mapping).toEqual({ base_model_class: 'CLIPModel', parent_library: 'transformers.models.clip.modeling_clip' });
    const saved = readSafetensors(files.get('zero_shot_head.safetensors')!).tensors.get('zero_shot_head.weight')!;
    expect(saved.shape).toEqual([LABELS.length, P]);
    expect(Array.from(saved.data)).toEqual(Array.from(await run.model.param('classifier.weight').read()));
    expect(new TextDecoder().decode(files.get('README.md'))).toContain('CLIPModel.from_pretrained');

    // Import onto a fresh zero-shot run whose head differs (as recomputed from other templates): the saved head wins.
    const want = await logitsOf(run, images);
    const adapter = await readAdapter(new MemorySource(files, 'the zero-shot export'));
    const fresh = testRun(ctx, clip, 'lora', adapter.runConfig.methodConfig, adapter.runConfig.targets, { seed: adapter.runConfig.seed, zeroShot: { weight: new Float32Array(LABELS.length * P) } });
    await loadAdapterInto(fresh, adapter);
    expect(maxAbsDiff(await logitsOf(fresh, images), want)).toBe(0);
    fresh.release();

    const linear = testRun(ctx, clip, 'lora', adapter.runConfig.methodConfig, adapter.runConfig.targets, { seed: adapter.runConfig.seed });
    await expect(loadAdapterInto(linear, adapter)).rejects.toThrow(/trained under a zero-shot head.*choose a zero-shot head/);
    // And the reverse: a linear-head export onto a zero-shot run.
    const linearFiles = await exportAdapterFiles(linear, { baseModel: 'org/clip-micro', labels: LABELS });
    const zs = testRun(ctx, clip, 'lora', adapter.runConfig.methodConfig, adapter.runConfig.targets, { seed: adapter.runConfig.seed, zeroShot: head });
    await expect(loadAdapterInto(zs, await readAdapter(new MemorySource(linearFiles, 'the linear export')))).rejects.toThrow(/new linear head.*"New linear head"/);
    zs.release();
    linear.release();
    run.release();
  });
});
