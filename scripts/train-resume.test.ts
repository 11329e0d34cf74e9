/**
 * `--stop-after N` then `--resume DIR` gives the same metrics, accuracy and weights as one
 * uninterrupted run; --resume needs no other flag and says what is wrong with a folder that is not a run.
 */
import { access, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main, parseTrainArgs, resumeArgs, train } from './train';

const base = (out: string) => [
  '--model', 'public/models/rankscope-vit-fmnist5', '--data', 'public/datasets/fashion-mnist-heldout', '--method', 'lora',
  '--steps', '4', '--batch', '8', '--lr', '1e-2', '--train-size', '20', '--val-size', '10', '--log-every', '1', '--eval-every', '2',
  '--seed', '2', '--checkpoint-seconds', '0', '--out', out,
];

const lines = async (dir: string) => (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
const withoutTimes = (rows: Record<string, unknown>[]) => rows.map(({ seconds, images_per_second, ...rest }) => rest);

describe('CLI checkpoints', () => {
  it('a run stopped at step 2 and resumed ends exactly like the uninterrupted run', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rankscope-resume-'));
    const whole = join(root, 'whole');
    const split = join(root, 'split');
    const quiet = () => {};
    const a = await train(parseTrainArgs([...base(whole), '--checkpoint-every', '0']), quiet);
    const stopped = await train(parseTrainArgs([...base(split), '--stop-after', '2']), quiet);
    expect(stopped).toEqual({ status: 'stopped', steps: 2 });
    await access(join(split, 'checkpoint', 'state.safetensors'));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    let code: number;
    try {
      code = await main(['--resume', split]);
    } finally {
      log.mockRestore();
    }
    expect(code).toBe(0);
    const b = JSON.parse(await readFile(join(split, 'summary.json'), 'utf8'));
    expect(withoutTimes(await lines(split))).toEqual(withoutTimes(await lines(whole)));
    expect(b.final_val_accuracy).toBe(a.final_val_accuracy);
    expect(b.final_val_loss).toBe(a.final_val_loss);
    expect(await readFile(join(split, 'adapter', 'adapter_model.safetensors'))).toEqual(await readFile(join(whole, 'adapter', 'adapter_model.safetensors')));
    // A finished run keeps its command line but not its state.
    await access(join(split, 'checkpoint', 'args.json'));
    await expect(access(join(split, 'checkpoint', 'state.safetensors'))).rejects.toThrow();
  }, 300_000);

  it('--resume takes a run folder alone', async () => {
    await expect(resumeArgs(['--resume', '/tmp', '--steps', '3'])).rejects.toThrow(/--resume takes one run folder and no other option/);
    await expect(resumeArgs(['--resume', '/nonexistent/run'])).rejects.toThrow(/\/nonexistent\/run\/checkpoint\/args\.json does not exist: --resume takes the --out folder of a run/);
    expect(() => parseTrainArgs(['--model', 'm', '--data', 'd', '--method', 'lora', '--resume', 'x'])).toThrow(/give it alone/);
  });
});
