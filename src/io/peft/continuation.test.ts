/**
 * Every adapter export carries what continues the run in Python: train_peft.py, its settings file
 * and requirements.txt, with a README section. The script must compile (python3 -m py_compile)
 * and read its settings file (--help shows the run's values as defaults); running it for a few
 * steps with real PEFT is the opt-in interop check (interop.test.ts, RANKSCOPE_PYTHON).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../../testing/gpu';
import { writeFilesToFolder } from '../node';
import { REQUIREMENTS, TRAIN_SCRIPT, TRAIN_SETTINGS } from './continuation';
import { exportAdapterFiles } from './exportAdapter';
import { LABELS, testCheckpoint, testRun } from './testRun';

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' }).status === 0 ? 'python3' : undefined;
if (!python) console.warn('continuation.test.ts: python3 is not on PATH, so train_peft.py is not compiled here; install python3 (Debian: apt-get install python3) to check it.');

const gpu = useGpu();
const text = (files: Map<string, Uint8Array>, name: string) => new TextDecoder().decode(files.get(name));

describe('the Python continuation in adapter exports', () => {
  it('LoRA: the script, its settings (the run’s schedule, labels, preprocessing) and pinned requirements', async () => {
    const { ctx } = gpu();
    const made = testCheckpoint();
    const base = testRun(ctx, made, 'lora', { r: 2, alpha: 4, rslora: false }, ['query', 'value']);
    const run = {
      ...base,
      config: { ...base.config, steps: 60, batchSize: 16, lr: 5e-3, warmupSteps: 5, weightDecay: 0.01, clipNorm: 1, labelSmoothing: 0.1, evalEvery: 15, logEvery: 3, augment: { crop: { scale: [0.5, 1] as const, ratio: [0.75, 4 / 3] as const }, flip: true } },
      norm: { size: made.spec.imageSize, mean: [0.5, 0.5, 0.5] as const, std: [0.25, 0.25, 0.25] as const },
    };
    const files = await exportAdapterFiles(run, { baseModel: 'org/tiny-vit', labels: ['T-shirt/top', 'dog', 'bird'] });
    base.release();
    for (const name of [TRAIN_SCRIPT, TRAIN_SETTINGS, REQUIREMENTS, 'adapter_config.json', 'adapter_model.safetensors']) expect(files.has(name), name).toBe(true);
    const settings = JSON.parse(text(files, TRAIN_SETTINGS));
    expect(settings).toMatchObject({
      format: 'rankscope-train',
      method: 'lora',
      adapter_format: 'peft',
      peft_naming: 'transformers5',
      base_model: 'org/tiny-vit',
      architecture: 'ViTForImageClassification',
      head_module: 'classifier',
      labels: ['T-shirt/top', 'dog', 'bird'],
      preprocessing: { size: made.spec.imageSize, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      augment: { crop: { scale: [0.5, 1], ratio: [0.75, 4 / 3] }, flip: true },
      train: { steps: 60, batch_size: 16, lr: 5e-3, head_lr: 5e-3, warmup_steps: 5, clip_norm: 1, label_smoothing: 0.1, seed: 3, eval_every: 15, grad_accum: 1 },
      no_decay: [],
    });
    expect(text(files, REQUIREMENTS)).toMatch(/^torch==2\.13\.0$/m);
    expect(text(files, REQUIREMENTS)).toMatch(/^transformers==5\.18\.0$/m);
    expect(text(files, REQUIREMENTS)).toMatch(/^peft==0\.21\.0$/m);
    expect(text(files, 'README.md')).toContain('## Continue training in Python');
    expect(text(files, 'README.md')).toContain('accelerate launch train_peft.py --data path/to/images\n');
    await checkScript(files, ['(default: 0.005)', '(default: 60)', 'org/tiny-vit', 'T-shirt_top, dog, bird']);
  });

  it('NOLA: starts from the merged checkpoint; the method’s scalings skip weight decay, read from the adapter', async () => {
    const { ctx } = gpu();
    const run = testRun(ctx, testCheckpoint(), 'nola', { rank: 2, ka: 8, kb: 8, c: 2, init: 'nola' }, ['query']);
    const files = await exportAdapterFiles(run, { baseModel: 'org/tiny-vit', labels: LABELS });
    run.release();
    const settings = JSON.parse(text(files, TRAIN_SETTINGS));
    expect(settings.adapter_format).toBe('own');
    expect(settings.no_decay).toEqual(['nola_alpha', 'nola_beta']);
    expect(settings.peft_naming).toBeUndefined();
    expect(text(files, 'README.md')).toContain('accelerate launch train_peft.py --data path/to/images --merged path/to/merged');
    expect(text(files, 'README.md')).toContain('PEFT has no NOLA');
    await checkScript(files, ['--merged', '--nola-lora-r']);
  });
});

/** Writes the export to a folder, compiles the script and runs --help, which reads rankscope_train.json. */
async function checkScript(files: Map<string, Uint8Array>, helpMentions: string[]): Promise<void> {
  if (!python) return;
  const dir = mkdtempSync(join(tmpdir(), 'rankscope-continuation-'));
  try {
    await writeFilesToFolder(dir, files);
    const compiled = spawnSync(python, ['-m', 'py_compile', join(dir, TRAIN_SCRIPT)], { encoding: 'utf8' });
    expect(compiled.status, compiled.stderr).toBe(0);
    const help = spawnSync(python, [join(dir, TRAIN_SCRIPT), '--help'], { encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    for (const m of helpMentions) expect(help.stdout).toContain(m);
    // Without --data it stops with argparse's message, before importing torch.
    const missing = spawnSync(python, [join(dir, TRAIN_SCRIPT)], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--data');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
