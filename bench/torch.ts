/**
 * The PyTorch peer of the step suite (`--torch`): runs bench/torch_step.py (fp32 eager on the
 * CPU) on the same ViT LoRA step and reads back its JSON line. Opt-in: it needs python3 with torch,
 * which CI does not have; when it cannot run, the reason is recorded instead.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

export interface TorchStepRow {
  method: string;
  model: string;
  batch: number;
  ms_per_step: number;
  images_per_second: number;
  steps_timed: number;
  trainable_params: number;
  torch: string;
  threads: number;
  runtime: string;
}

export function benchTorchStep(opts: { shape: string; batch: number; steps: number; depth?: number; method?: string }): TorchStepRow {
  const script = resolve('bench/torch_step.py');
  const args = [script, '--shape', opts.shape, '--batch', String(opts.batch), '--steps', String(opts.steps), '--method', opts.method ?? 'lora'];
  if (opts.depth !== undefined) args.push('--depth', String(opts.depth));
  // RANKSCOPE_PYTHON picks the interpreter that has torch (e.g. /usr/bin/python3 beside a pyenv one).
  const python = process.env.RANKSCOPE_PYTHON ?? 'python3';
  const r = spawnSync(python, args, { encoding: 'utf8', timeout: 3_600_000 });
  if (r.error) throw new Error(`${python} could not be started (${r.error.message}); install python3 with torch (Debian: apt-get install python3-torch)`);
  if (r.status !== 0) {
    const tail = (r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' / ');
    throw new Error(`${script} exited with ${r.status}: ${tail}`);
  }
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as TorchStepRow;
}
