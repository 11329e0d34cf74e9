/**
 * The zero-shot CLI and CLIP heads in `npm run train`, end to end on a generated full CLIP
 * (micro, with text tower and tokenizer) and the built-in Fashion-MNIST subset.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readSafetensors } from '../src/io/safetensors';
import { makeModel } from '../src/models/makeModel';
import { expectedTensors } from '../src/models/names';
import { expectedTextTensors } from '../src/models/textSpec';
import { CLIP_PAPER_TEMPLATES } from '../src/models/zeroShot';
import { writeCheckpoint } from './make-model';
import { parseTrainArgs, train } from './train';
import { main, parseZeroShotArgs, zeroShot } from './zeroshot';

const DATA = 'public/datasets/fashion-mnist-mini';
const quiet = () => {};
let dir: string;
let clip: string;
let visionOnly: string;
/** The merged export of a zero-shot run with no training (written by the first test, read by a later one). */
let zeroShotRunDir: string;
const made = makeModel({ arch: 'clip', preset: 'micro', seed: 2, labels: 10, text: true, init: 'varied' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rankscope-zeroshot-'));
  clip = join(dir, 'clip');
  visionOnly = join(dir, 'clip-vision');
  await writeCheckpoint(clip, made);
  await writeCheckpoint(visionOnly, makeModel({ arch: 'clip', preset: 'micro', seed: 2, labels: 10 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const common = ['--val-size', '20', '--seed', '3'];

function tensorsOf(bytes: Uint8Array) {
  return readSafetensors(bytes, { fileName: 'model.safetensors' }).tensors;
}

describe('npm run zeroshot', () => {
  it('prints one JSON line with accuracy, consistent with its confusion matrix and with train --steps 0; takes a template file', async () => {
    const file = join(dir, 'templates.txt');
    await writeFile(file, '# my prompts\na photo of a {}.\n\na blurry photo of the {}, a garment.\n');
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((l: string) => lines.push(l));
    const err = vi.spyOn(console, 'error').mockImplementation(quiet);
    try {
      expect(await main(['--model', clip, '--data', DATA, '--templates', file, ...common])).toBe(0);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]);
    const confusion = r.confusion as number[][];
    const correct = confusion.reduce((s, row, i) => s + row[i], 0);
    expect(r.images).toBe(20);
    expect(r.accuracy).toBeCloseTo(correct / 20, 6);
    expect(r).toMatchObject({ templates: 2, prompts: 20, classes: expect.arrayContaining(['T-shirt/top', 'Ankle boot']) });
    // A zero-shot run through the training CLI (no steps, frozen head, same templates) scores the same images alike.
    zeroShotRunDir = join(dir, 'zs0');
    const s = await train(
      parseTrainArgs(['--model', clip, '--data', DATA, '--method', 'probe', '--head', 'zeroshot', '--templates', file, '--steps', '0', '--batch', '8', ...common, '--out', zeroShotRunDir]),
      quiet,
    );
    expect(s.final_val_accuracy).toBeCloseTo(r.accuracy, 6);
    expect(s.head).toBe('zeroshot');
    // The CLIP paper's 80 templates run the same way (800 text-tower passes here, too slow for CI on a software GPU).
    expect(parseZeroShotArgs(['--model', clip, '--data', DATA, '--template-set', 'clip-paper']).templateSet).toBe('clip-paper');
    expect(CLIP_PAPER_TEMPLATES).toHaveLength(80);
    expect(new Set(CLIP_PAPER_TEMPLATES).size).toBe(80);
    const bad = join(dir, 'bad-templates.txt');
    await writeFile(bad, 'no placeholder here\n');
    await expect(zeroShot(parseZeroShotArgs(['--model', clip, '--data', DATA, '--templates', bad]), quiet)).rejects.toThrow(/bad-templates\.txt: the template "no placeholder here" has no "\{\}"/);
  }, 300_000);

  it('bad input: vision-only CLIP names full checkpoints; missing tokenizer.json names the file; numeric class names get a note', async () => {
    await expect(zeroShot(parseZeroShotArgs(['--model', visionOnly, '--data', DATA, '--val-size', '10']), quiet)).rejects.toThrow(/full CLIP checkpoint.*openai\/clip-vit-base-patch32/);
    const noTok = join(dir, 'clip-no-tokenizer');
    await writeCheckpoint(noTok, made);
    await rm(join(noTok, 'tokenizer.json'));
    await expect(zeroShot(parseZeroShotArgs(['--model', noTok, '--data', DATA, '--val-size', '10']), quiet)).rejects.toThrow(/clip-no-tokenizer has no tokenizer\.json/);
    const numbers = Array.from({ length: 10 }, (_, i) => String(i));
    await expect(zeroShot(parseZeroShotArgs(['--model', clip, '--data', DATA, '--val-size', '10', '--classes', numbers.join(',')]), quiet)).rejects.toThrow(/bare numbers.*type them in/);
    expect(() => parseZeroShotArgs(['--data', DATA])).toThrow(/--model is required/);
  }, 300_000);
});

describe('npm run train --head on a full CLIP', () => {
  it('zeroshot keeps the head frozen, zeroshot-init trains it; the merged export is a whole CLIPModel with the tokenizer', async () => {
    const run = async (head: string, steps: string) => {
      const out = join(dir, `${head}-${steps}`);
      await train(
        parseTrainArgs(['--model', clip, '--data', DATA, '--method', 'lora', '--head', head, '--templates', join(dir, 'templates.txt'), '--steps', steps, '--batch', '8', '--lr', '1e-2', '--train-size', '16', '--val-size', '10', '--seed', '3', '--out', out]),
        quiet,
      );
      return out;
    };
    const start = tensorsOf(await readFile(join(zeroShotRunDir, 'merged', 'model.safetensors')));
    const frozenDir = await run('zeroshot', '2');
    const frozen = tensorsOf(await readFile(join(frozenDir, 'merged', 'model.safetensors')));
    const trained = tensorsOf(await readFile(join(await run('zeroshot-init', '2'), 'merged', 'model.safetensors')));
    expect(frozen.get('zero_shot_head.weight')!.data).toEqual(start.get('zero_shot_head.weight')!.data);
    expect(trained.get('zero_shot_head.weight')!.data).not.toEqual(start.get('zero_shot_head.weight')!.data);
    // LoRA trained the vision tower under the frozen head.
    const q = 'vision_model.encoder.layers.0.self_attn.q_proj.weight';
    expect(frozen.get(q)!.data).not.toEqual(start.get(q)!.data);
    // Every tensor CLIPModel has, the text tower as loaded, plus the head under its own name.
    const want = new Set([...expectedTensors(made.spec).keys(), ...expectedTextTensors(made.textSpec!, made.spec.hidden).keys(), 'zero_shot_head.weight']);
    expect(new Set(frozen.keys())).toEqual(want);
    for (const [name, t] of made.tensors) if (name.startsWith('text_model.') || name === 'logit_scale' || name === 'text_projection.weight') expect(frozen.get(name)!.data, name).toEqual(t.data);
    const config = JSON.parse(await readFile(join(frozenDir, 'merged', 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['CLIPModel']);
    expect(config.text_config.vocab_size).toBe(made.textSpec!.vocabSize);
    expect(JSON.parse(await readFile(join(frozenDir, 'merged', 'tokenizer.json'), 'utf8')).model.type).toBe('BPE');
    // The adapter folder: PEFT's files for CLIPModel, the head beside them (PEFT has no place for it).
    const adapterConfig = JSON.parse(await readFile(join(frozenDir, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(adapterConfig.modules_to_save).toBeNull();
    expect(adapterConfig.auto_mapping.base_model_class).toBe('CLIPModel');
    const besideHead = tensorsOf(await readFile(join(frozenDir, 'adapter', 'zero_shot_head.safetensors'))).get('zero_shot_head.weight')!;
    expect(besideHead.data).toEqual(frozen.get('zero_shot_head.weight')!.data);
    const summary = JSON.parse(await readFile(join(frozenDir, 'summary.json'), 'utf8'));
    expect(summary.head).toBe('zeroshot');
  }, 600_000);

  it('a linear-head run of a full CLIP keeps the text tower too and stays CLIPForImageClassification', async () => {
    const out = join(dir, 'linear');
    await train(parseTrainArgs(['--model', clip, '--data', DATA, '--method', 'lora', '--steps', '1', '--batch', '8', '--train-size', '16', ...common, '--out', out]), quiet);
    const t = tensorsOf(await readFile(join(out, 'merged', 'model.safetensors')));
    expect(t.get('classifier.weight')!.shape).toEqual([10, made.spec.hidden]);
    expect(t.has('text_model.final_layer_norm.weight')).toBe(true);
    expect(JSON.parse(await readFile(join(out, 'merged', 'config.json'), 'utf8')).architectures).toEqual(['CLIPForImageClassification']);
    expect(() => parseTrainArgs(['--model', clip, '--data', DATA, '--method', 'lora', '--head', 'nope'])).toThrow(/--head is linear, zeroshot or zeroshot-init/);
  }, 300_000);
});
