import { describe, expect, it } from 'vitest';
import type { RunView } from '../state/runStore';
import { csvFileName, runMetricsCsv } from './metricsCsv';
import { parseRunFile, RunFileError, runFileJson, runFileName } from './runFile';

function view(id: string, over: Partial<RunView> = {}): RunView {
  return {
    spec: { id, name: `LoRA r=8 · ${id}`, method: 'lora', methodConfig: { r: 8, alpha: 8, rslora: false }, targets: ['query', 'value'], train: { steps: 4, batchSize: 2 } },
    state: 'done',
    trainableParams: 321,
    rankLayer: 'vit.encoder.layer.0.attention.attention.query',
    train: [
      { kind: 'train', step: 2, loss: 1.5, accuracy: 0.25, lr: 1e-3, grad_norm: 0.5, images_per_second: 12.5, seconds: 0.2 },
      { kind: 'train', step: 4, loss: Number.NaN, accuracy: 0.5, lr: 0, grad_norm: 0.25, images_per_second: 13, seconds: 0.4 },
    ],
    evals: [{ kind: 'eval', step: 4, val_loss: 1.25, val_accuracy: 0.5, seconds: 0.5 }],
    spectra: [{ step: 4, spectrum: { module: 'vit.encoder.layer.0.attention.attention.query', rows: 3, cols: 2, singularValues: [2, 1e-9], numericalRank: 1, effectiveRank: 1.01, stableRank: 1 } }],
    result: {
      status: 'done',
      head: 'linear',
      method: 'lora',
      trainable_params: 321,
      steps: 4,
      final_val_accuracy: 0.5,
      best_val_accuracy: 0.5,
      final_val_loss: 1.25,
      seconds: 0.5,
      seconds_per_step: 0.125,
      peak_gpu_bytes: 4096,
      confusion: [
        [1, 1],
        [0, 2],
      ],
      classNames: ['cat', 'dog, "big"'],
      perClassAccuracy: [0.5, 1],
    },
    color: '#3257d6',
    createdAt: Date.parse('2026-12-01T10:00:00Z'),
    model: 'models/tiny',
    dataset: 'pets (train)',
    modelFingerprint: { sha256: 'a'.repeat(64), files: 3, bytes: 1000 },
    datasetFingerprint: { sha256: 'b'.repeat(64), files: 5, bytes: 2000 },
    environment: { adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader', isSoftware: true }, browser: 'test' },
    exports: { adapter: new Uint8Array([1, 2, 3]) },
    ...over,
  };
}

describe('run files', () => {
  it('round-trips every number, spectrum, confusion matrix, fingerprint and environment, marked as imported', () => {
    const a = view('run-a');
    const b = view('run-b', { state: 'stopped', color: '#d6453d' });
    const text = runFileJson([a, b], new Date('2026-12-02T00:00:00Z'));
    const back = parseRunFile(text, 'x.rankscope.json', 123);
    expect(back).toHaveLength(2);
    const { exports: _e, ...plain } = a;
    expect(back[0]).toEqual({ ...plain, imported: { file: 'x.rankscope.json', at: 123 } });
    expect(back[1].state).toBe('stopped');
    // A diverged loss (NaN) is null in JSON and NaN again after import.
    expect(text).toContain('"loss": null');
    expect(Number.isNaN(back[0].train[1].loss)).toBe(true);
    // The downloads made in the worker are not part of a run file.
    expect(text).not.toContain('exports');
    // Exported again, an imported run says where it came from.
    expect(JSON.parse(runFileJson([back[0]])).runs[0].imported_from).toBe('x.rankscope.json');
  });

  it('refuses runs still training and failed runs, naming them', () => {
    expect(() => runFileJson([view('a', { state: 'training' })])).toThrow(/"LoRA r=8 · a" \(training\) is not/);
    expect(() => runFileJson([])).toThrow(/no finished run/);
  });

  it('names the file after the run, or counts the runs', () => {
    expect(runFileName([view('a')])).toBe('lora-r-8-a.rankscope.json');
    expect(runFileName([view('a'), view('b')], new Date('2026-12-02T05:00:00Z'))).toBe('rankscope-2-runs-2026-12-02.rankscope.json');
  });

  it('says what is wrong with a file that is not a run file, and where', () => {
    expect(() => parseRunFile('{"runs": [', 'broken.json')).toThrow(/broken\.json is not a Rankscope run file: it is not valid JSON/);
    expect(() => parseRunFile('{"format": "other"}', 'o.json')).toThrow(RunFileError);
    expect(() => parseRunFile(JSON.stringify({ format: 'rankscope-runs', format_version: 9, runs: [] }), 'new.json')).toThrow(/format version 9, newer than this Rankscope reads/);
    const file = JSON.parse(runFileJson([view('a')]));
    file.runs[0].spec.method = 'dora2';
    expect(() => parseRunFile(JSON.stringify(file), 'm.json')).toThrow(/m\.json: runs\[0\]\.spec\.method is "dora2", which this version of Rankscope does not know/);
    const bad = JSON.parse(runFileJson([view('a')]));
    bad.runs[0].result.confusion = [[1, 2, 3]];
    expect(() => parseRunFile(JSON.stringify(bad), 'c.json')).toThrow(/runs\[0\]\.result\.confusion should be 2×2/);
    const text = JSON.parse(runFileJson([view('a')]));
    text.runs[0].metrics.train[0].loss = 'low';
    expect(() => parseRunFile(JSON.stringify(text), 't.json')).toThrow(/runs\[0\]\.metrics\.train\[0\]\.loss should be a number, not "low"/);
  });
});

describe('metrics CSV', () => {
  it('has one row per logged record in step order, training before evaluation at the same step', () => {
    const csv = runMetricsCsv(view('a'));
    expect(csv).toBe(
      'step,kind,loss,accuracy,lr,grad_norm,images_per_second,val_loss,val_accuracy,seconds\n' +
        '2,train,1.5,0.25,0.001,0.5,12.5,,,0.2\n' +
        '4,train,NaN,0.5,0,0.25,13,,,0.4\n' +
        '4,eval,,,,,,1.25,0.5,0.5\n',
    );
    expect(csvFileName('LoRA r=8 · lr 5e-3')).toBe('lora-r-8-lr-5e-3-metrics.csv');
  });
});
