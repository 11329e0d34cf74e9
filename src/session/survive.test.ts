/**
 * Runs that survive: a GPU device destroyed mid-run (what a driver reset looks like) is replaced
 * and the run goes on from its last checkpoint to the uninterrupted run's exact numbers; a second
 * loss pauses it until Resume; a lab started afresh (a reload) resumes an interrupted run and the
 * rest of its queue from the stored checkpoint; and a store that cannot write (no IndexedDB under
 * Node) says so once while training goes on.
 */
import { describe, expect, it } from 'vitest';
import { generatedCheckpoint } from '../io/checkpoint';
import { loadDatasetFolder } from '../io/node';
import { makeModel } from '../models/makeModel';
import { nodeGpu } from '../gpu/node';
import { useGpu } from '../testing/gpu';
import type { GpuContext } from '../gpu/context';
import { MemoryCheckpointStore } from './checkpointStore';
import { IndexedDbCheckpointStore } from './idbCheckpointStore';
import { Lab } from './lab';
import { prepareData } from './prepare';
import type { RunEvent, RunSpec } from './run';

const gpu = useGpu();
/** The device that works now: the first test destroys the shared one, and the later ones go on with its replacement. */
let live: GpuContext | undefined;

async function fixture() {
  const ckpt = generatedCheckpoint(makeModel({ arch: 'vit', preset: 'tiny', seed: 4, labels: 10 }), 'tiny');
  const ds = await loadDatasetFolder('public/datasets/fashion-mnist-heldout', { split: 'train' });
  const data = prepareData(ds, { valFraction: 0.2, seed: 0, trainLimit: 20, valLimit: 10 });
  return { ckpt, data };
}

const spec = (id: string): RunSpec => ({
  id,
  name: id,
  method: 'lora',
  methodConfig: { r: 2 },
  targets: ['query', 'value'],
  train: { steps: 4, batchSize: 8, lr: 1e-2, warmupSteps: 2, logEvery: 1, evalEvery: 100, seed: 3 },
  rankEvery: 2,
});

/** The run's losses by step as the page would show them: a `restored` event replaces what came before. */
function lossesOf(events: RunEvent[], id: string): Map<number, number> {
  let out = new Map<number, number>();
  for (const e of events) {
    if (e.runId !== id) continue;
    if (e.type === 'restored') out = new Map(e.history.metrics.flatMap((m) => (m.kind === 'train' ? [[m.step, m.loss] as [number, number]] : [])));
    if (e.type === 'metric' && e.metric.kind === 'train') out.set(e.metric.step, e.metric.loss);
  }
  return out;
}

const resultOf = (events: RunEvent[], id: string) => {
  const r = events.find((e) => e.type === 'result' && e.runId === id);
  return r?.type === 'result' ? r.result : undefined;
};
const statesOf = (events: RunEvent[], id: string) => events.flatMap((e) => (e.type === 'state' && e.runId === id ? [e.state] : []));

describe('runs that survive', () => {
  it('a lost device is replaced once automatically, a second loss pauses until Resume, and the run ends at the uninterrupted numbers', async () => {
    const { ctx } = gpu();
    ctx.checkEachLaunch = false;
    const { ckpt, data } = await fixture();
    const events: RunEvent[] = [];
    // Destroy the device after these logged steps (once each): after the checkpoint at step 2, then again at step 4.
    const kills = new Set(['lost:3', 'lost:4']);
    let lab!: Lab;
    const devices: GPUDevice[] = [];
    lab = new Lab(
      ctx,
      (e) => {
        events.push(e);
        if (e.type === 'metric' && e.metric.kind === 'train' && kills.delete(`${e.runId}:${e.metric.step}`)) lab.ctx.device.destroy();
        // A person's pause after step 1, lifted while the pause's checkpoint is still being read back.
        if (e.type === 'metric' && e.runId === 'whole' && e.metric.step === 1) {
          lab.pause('whole');
          setTimeout(() => lab.resume('whole'), 0);
        }
        if (e.type === 'state' && e.runId === 'lost' && e.state === 'paused') setTimeout(() => lab.resume('lost'), 20);
      },
      {
        checkpoints: new MemoryCheckpointStore(),
        policy: { everySteps: 2, everySeconds: 0 },
        recover: async () => {
          const next = await nodeGpu();
          devices.push(next.device);
          return next.ctx;
        },
      },
    );
    lab.setModel(ckpt);
    lab.setData(data);
    lab.enqueue(spec('whole'), spec('lost'));
    await lab.idle();
    live = lab.ctx;

    const whole = lossesOf(events, 'whole');
    expect([...whole.keys()]).toEqual([1, 2, 3, 4]);
    expect(statesOf(events, 'whole')).toEqual(['queued', 'loading', 'training', 'paused', 'training', 'done']);
    expect(events.filter((e) => e.type === 'checkpoint' && e.runId === 'whole').map((e) => e.type === 'checkpoint' && e.step)).toEqual([1, 2]);
    // The first loss: a note in the run's log, a new device, and on from the checkpoint at step 2.
    const notices = events.flatMap((e) => (e.type === 'notice' && e.runId === 'lost' ? [e] : []));
    expect(notices.map((n) => n.level)).toEqual(['info', 'warning']);
    expect(notices[0].message).toMatch(/^The GPU device was lost at step 3 \(destroyed.*\)\. Rankscope got a new device and continues from the checkpoint at step 2\.$/);
    // The second: the run pauses with the reason until Resume, then goes on from the same checkpoint.
    expect(notices[1].message).toMatch(/^The GPU device was lost at step 4 .*It was lost before in this run, so the run waits: press Resume to continue from the checkpoint at step 2/);
    expect(statesOf(events, 'lost')).toEqual(['queued', 'loading', 'training', 'training', 'paused', 'training', 'training', 'done']);
    const paused = events.find((e) => e.type === 'state' && e.runId === 'lost' && e.state === 'paused');
    expect(paused?.type === 'state' && paused.error).toBe(notices[1].message);
    expect(devices).toHaveLength(2);
    // Same kernels, same inputs, same order on a new device: equal to the last bit.
    expect(Object.fromEntries(lossesOf(events, 'lost'))).toEqual(Object.fromEntries(whole));
    expect(resultOf(events, 'lost')?.final_val_loss).toBe(resultOf(events, 'whole')?.final_val_loss);
    expect(resultOf(events, 'lost')?.final_val_accuracy).toBe(resultOf(events, 'whole')?.final_val_accuracy);
  }, 240_000);

  it('a new lab (a reload) resumes an interrupted run from its stored checkpoint, then the rest of the queue', async () => {
    const { ckpt, data } = await fixture();
    const fresh = { ctx: live ?? (await nodeGpu()).ctx };
    fresh.ctx.checkEachLaunch = false;
    const store = new MemoryCheckpointStore();
    const events: RunEvent[] = [];
    // The first lab: stop answering after the checkpoint at step 2 (a pause nobody lifts, as a closed tab).
    let first!: Lab;
    first = new Lab(
      fresh.ctx,
      (e) => {
        events.push(e);
        if (e.type === 'checkpoint' && e.runId === 'cut' && e.step === 2) first.pause('cut');
      },
      { checkpoints: store, policy: { everySteps: 2, everySeconds: 0 } },
    );
    first.setModel(ckpt);
    first.setData(data);
    first.enqueue(spec('cut'), spec('later'));
    await expect.poll(() => first.state('cut'), { timeout: 120_000 }).toBe('paused');
    expect(store.entries.get('cut')?.step).toBe(2);
    expect(first.state('later')).toBe('queued');

    const after: RunEvent[] = [];
    const second = new Lab(fresh.ctx, (e) => after.push(e), { checkpoints: store, policy: { everySteps: 2, everySeconds: 0 } });
    second.setModel(ckpt);
    // Another split is refused before anything is queued, naming what to load.
    second.setData(prepareData((await loadDatasetFolder('public/datasets/fashion-mnist-heldout', { split: 'train' })), { valFraction: 0.3, seed: 0, trainLimit: 20, valLimit: 10 }));
    await expect(second.resumeRuns([spec('cut'), spec('later')])).rejects.toThrow(/"cut" was trained on another data split .*same validation fraction, seed and k-shot/);
    second.setData(data);
    await second.resumeRuns([spec('cut'), spec('later')]);
    await second.idle();
    const restored = after.find((e) => e.type === 'restored' && e.runId === 'cut');
    expect(restored?.type === 'restored' && restored.step).toBe(2);
    expect(restored?.type === 'restored' && restored.history.metrics.filter((m) => m.kind === 'train').map((m) => m.step)).toEqual([1, 2]);
    // Only steps 3 and 4 were trained again.
    expect(after.filter((e) => e.type === 'metric' && e.runId === 'cut' && e.metric.kind === 'train').map((e) => e.type === 'metric' && e.metric.step)).toEqual([3, 4]);

    // The reference: the same run uninterrupted, in a third lab.
    const ref: RunEvent[] = [];
    const third = new Lab(fresh.ctx, (e) => ref.push(e));
    third.setModel(ckpt);
    third.setData(data);
    third.enqueue(spec('whole'));
    await third.idle();
    expect(Object.fromEntries(lossesOf(after, 'cut'))).toEqual(Object.fromEntries(lossesOf(ref, 'whole')));
    expect(Object.fromEntries(lossesOf(after, 'later'))).toEqual(Object.fromEntries(lossesOf(ref, 'whole')));
    expect(resultOf(after, 'cut')?.final_val_loss).toBe(resultOf(ref, 'whole')?.final_val_loss);
    // Finished runs leave no checkpoint behind.
    expect(store.entries.size).toBe(0);
  }, 240_000);

  it('a store that cannot write says so once, and training goes on to its end', async () => {
    // The first test destroyed the shared device; its replacement works.
    const ctx = live ?? (await nodeGpu()).ctx;
    ctx.checkEachLaunch = false;
    const { ckpt, data } = await fixture();
    const events: RunEvent[] = [];
    // Node has no IndexedDB: the page's store fails here for real.
    const lab = new Lab(ctx, (e) => events.push(e), { checkpoints: new IndexedDbCheckpointStore(), policy: { everySteps: 2, everySeconds: 0 } });
    lab.setModel(ckpt);
    lab.setData(data);
    lab.enqueue(spec('nostore'));
    await lab.idle();
    expect(statesOf(events, 'nostore').at(-1)).toBe('done');
    const notices = events.flatMap((e) => (e.type === 'notice' ? [e.message] : []));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^Checkpoint at step 2 could not be saved to IndexedDB database "rankscope-checkpoints": IndexedDB is not available in this window/);
    expect(notices[0]).toMatch(/Training goes on without checkpoints.*already saved are untouched\. Use a normal \(not private\) window/);
    // In memory it still checkpointed (for a device loss), never stored (the last step is not checkpointed: the run ends there).
    expect(events.filter((e) => e.type === 'checkpoint').map((e) => e.type === 'checkpoint' && e.stored)).toEqual([false]);
    expect(lossesOf(events, 'nostore').size).toBe(4);
  }, 120_000);
});
