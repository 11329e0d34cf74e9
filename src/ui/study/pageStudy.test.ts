import { describe, expect, it } from 'vitest';
import type { StudyCell } from '../../study/types';
import type { RunView } from '../state/runStore';
import { cellRunSpec, cellsLeft, progressCounts, queueOrder, studyProgress, studyRows, totalIntruders, type PageStudy } from './pageStudy';

function cell(method: string, budget: number | null, seed: number, extra: Partial<StudyCell> = {}): StudyCell {
  return {
    key: `${method}|b=${budget}|s=${seed}|k=all`,
    method,
    config: method === 'lora' ? { r: 2 } : {},
    setting: method === 'lora' ? 'r=2' : '',
    trainable_params: 4277,
    budget,
    seed,
    k_shot: null,
    reference: budget === null,
    reachable: true,
    ...extra,
  };
}

const study: PageStudy = {
  id: 'study-1',
  createdAt: 0,
  spec: { methods: ['lora'], budgets: [4000], seeds: [0, 1], kShots: [null, 4], references: ['full', 'zeroshot'], includeHead: true },
  cells: [
    cell('lora', 4000, 0),
    cell('lora', 4000, 1),
    cell('lora', 4000, 1, { key: 'lora|b=4000|s=1|k=4', k_shot: 4 }),
    cell('vera', 100, 0, { reachable: false, note: 'VeRA cannot go below 1,026 values' }),
    cell('full', null, 0),
    cell('zeroshot', null, 0),
  ],
  train: { steps: 40, batchSize: 8, lr: 1e-3, weightDecay: 0, warmupSteps: 2, clipNorm: 1, accumulation: 1, labelSmoothing: 0, seed: 7, logEvery: 5, evalEvery: 10 },
  targets: ['query', 'value'],
  lr: { lora: 5e-3, full: 5e-4 },
  rankLayer: 'vit.encoder.layer.0.attention.attention.query',
  headParams: 245,
};

function view(c: StudyCell, state: RunView['state'], extra: Partial<RunView> = {}): RunView {
  const spec = cellRunSpec(study, c, `run-${c.key}-${state}`);
  return { spec, state, train: [], evals: [], spectra: [], color: '#000', createdAt: 0, ...extra };
}

const result = (acc: number, intruders?: unknown) =>
  ({
    status: 'done',
    method: 'lora',
    head: 'linear',
    trainable_params: 4277,
    steps: 40,
    final_val_accuracy: acc - 0.05,
    best_val_accuracy: acc,
    final_val_loss: 1,
    seconds: 3,
    seconds_per_step: 0.1,
    peak_gpu_bytes: 1,
    confusion: [],
    perClassAccuracy: [],
    classNames: [],
    ...(intruders ? { intruders_per_layer: intruders } : {}),
  }) as unknown as RunView['result'];

describe('a study cell as a run', () => {
  it('carries its method setting, seed, the method’s learning rate, k-shot and its cell', () => {
    const spec = cellRunSpec(study, study.cells[2], 'r1');
    expect(spec.method).toBe('lora');
    expect(spec.methodConfig).toMatchObject({ r: 2, alpha: 8 });
    expect(spec.train).toMatchObject({ seed: 1, lr: 5e-3, steps: 40, batchSize: 8 });
    expect(spec.train.logEvery).toBe(1);
    expect(spec.kShot).toEqual({ k: 4, seed: 1 });
    expect(spec.study).toEqual({ id: 'study-1', key: 'lora|b=4000|s=1|k=4', budget: 4000, seed: 1, k_shot: 4 });
    expect(spec.targets).toEqual(['query', 'value']);
    expect(spec.rankLayer).toBe(study.rankLayer);
    expect(spec.name).toBe('LoRA r=2 · seed 1 · 4-shot · lr 5e-3');
    expect(cellRunSpec(study, study.cells[0], 'r0').kShot).toBeUndefined();
  });

  it('runs full fine-tuning at its own rate, and zero-shot as a 0-step evaluation under the frozen zero-shot head', () => {
    expect(cellRunSpec(study, study.cells[4]).train.lr).toBe(5e-4);
    const z = cellRunSpec(study, study.cells[5], 'z');
    expect(z.method).toBe('probe');
    expect(z.train).toMatchObject({ head: 'zeroshot', steps: 0, seed: 0 });
    expect(z.study?.key).toBe('zeroshot|b=null|s=0|k=all');
  });
});

describe('study progress', () => {
  it('matches runs to cells by their tag, keeps the best run of a cell, and leaves runs of other studies out', () => {
    const [a, b, c] = study.cells;
    const other = view(a, 'done');
    other.spec = { ...other.spec, study: { ...other.spec.study!, id: 'study-0' } };
    const runs = [view(a, 'failed'), view(a, 'done', { result: result(0.8) }), view(b, 'training'), view(c, 'queued', { restored: true }), other];
    const p = studyProgress(study, runs);
    expect(p.map((x) => x.state)).toEqual(['done', 'running', 'interrupted', 'missing', 'missing', 'missing']);
    expect(p[0].run?.state).toBe('done');
    // A run a reload cut off is left (Continue resumes it, it is not queued twice); the out-of-reach
    // VeRA cell runs at its nearest setting.
    expect(cellsLeft(p).map((x) => x.key)).toEqual(['lora|b=4000|s=1|k=4', 'vera|b=100|s=0|k=all', 'full|b=null|s=0|k=all', 'zeroshot|b=null|s=0|k=all']);
    const counts = progressCounts(p);
    expect(counts).toMatchObject({ total: 6, unreachable: 1, done: 1, running: 1, interrupted: 1, missing: 3 });
    // An imported run file that never finished has no checkpoint to resume: its cell starts over.
    expect(studyProgress(study, [view(c, 'queued', { restored: true, imported: { file: 'a.rankscope.json', at: 0 } })])[2].state).toBe('missing');
  });

  it('queues failed and stopped cells again, but not finished or in-flight ones', () => {
    const [a, b] = study.cells;
    const p = studyProgress(study, [view(a, 'stopped'), view(b, 'diverged', { result: result(0.3) })]);
    expect(cellsLeft(p).map((x) => x.key)).toContain(a.key);
    expect(cellsLeft(p).map((x) => x.key)).not.toContain(b.key);
  });

  it('gives a finished run’s row: accuracies, ranks from its last spectrum on the tracked layer, intruders recounted at ε', () => {
    const [a] = study.cells;
    const layer = study.rankLayer!;
    const spectrum = (eff: number) => ({ module: layer, rows: 48, cols: 48, singularValues: [], numericalRank: 2, effectiveRank: eff, stableRank: 1 });
    const intruders = [
      { module: layer, k: 3, topCosines: [0.9, 0.4, 0.2] },
      { module: 'other', k: 3, topCosines: [0.95, 0.6, 0.45] },
    ];
    const run = view(a, 'done', {
      result: result(0.8, intruders),
      rankLayer: layer,
      spectra: [
        { step: 10, spectrum: spectrum(1.5) },
        { step: 40, spectrum: spectrum(1.9) },
      ],
    });
    const p = studyProgress(study, [run]);
    const [r] = studyRows(p, 0.5, layer);
    expect(r).toMatchObject({ key: a.key, status: 'done', best_val_accuracy: 0.8, final_val_accuracy: 0.75, rank_numerical: 2, rank_effective: 1.9, run_id: run.spec.id, budget: 4000 });
    // Below 0.5: 0.4, 0.2 and 0.45; below 0.3: only 0.2.
    expect(r.intruders).toBe(3);
    expect(studyRows(p, 0.3, layer)[0].intruders).toBe(1);
    expect(r.intruders_per_layer).toHaveLength(2);
    // The end-of-run mean over every targeted layer wins over the tracked layer's spectrum.
    const measured = view(a, 'done', { result: { ...result(0.8, intruders)!, rank_effective: 7.5, rank_numerical: 9 } as RunView['result'], spectra: run.spectra });
    expect(studyRows(studyProgress(study, [measured]), 0.5, layer)[0]).toMatchObject({ rank_effective: 7.5, rank_numerical: 9 });
    expect(totalIntruders(undefined, 0.5)).toBeNaN();
  });
});

describe('queue order', () => {
  it('runs seed by seed, budgets up, methods in the study’s order, references last', () => {
    const spec = { ...study.spec, methods: ['lora', 'randlora'], budgets: [800, 1400], seeds: [0, 1], kShots: [null], references: ['probe' as const] };
    const cells = ['lora', 'randlora'].flatMap((m) => [800, 1400].flatMap((b) => [0, 1].map((s) => cell(m, b, s, { key: `${m}|${b}|${s}` }))));
    cells.push(cell('probe', null, 0, { key: 'probe|0' }), cell('probe', null, 1, { key: 'probe|1' }));
    expect(queueOrder({ spec }, cells).map((c) => c.key)).toEqual([
      'lora|800|0',
      'randlora|800|0',
      'lora|1400|0',
      'randlora|1400|0',
      'probe|0',
      'lora|800|1',
      'randlora|800|1',
      'lora|1400|1',
      'randlora|1400|1',
      'probe|1',
    ]);
  });
});
