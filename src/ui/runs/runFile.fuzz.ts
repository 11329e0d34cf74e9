/**
 * The run-file parser as a fuzz target (src/io/fuzz's contract): damaged and random run files
 * either read back as runs that hold together or throw RunFileError naming the file. It lives
 * beside the parser because io may not import the ui layer; runFile.fuzz.test.ts runs it in CI and
 * `npm run fuzz` soaks it with io's targets.
 */
import fc from 'fast-check';
import { strToU8 } from 'fflate';
import { mutated, InconsistentResult, type FuzzTarget } from '../../io/fuzz/targets';
import { METHODS } from '../../methods/registry';
import type { RunView } from '../state/runStore';
import { parseRunFile, RunFileError, runFileJson } from './runFile';

const FILE = 'runs.rankscope.json';

function seedView(id: string, method: 'lora' | 'full'): RunView {
  return {
    spec: { id, name: `${method} ${id}`, method, methodConfig: method === 'lora' ? { r: 8, alpha: 8, rslora: false } : {}, targets: ['query', 'value'], train: { steps: 4, batchSize: 2 } },
    state: 'done',
    trainableParams: 321,
    train: [
      { kind: 'train', step: 2, loss: 1.5, accuracy: 0.25, lr: 1e-3, grad_norm: 0.5, images_per_second: 12.5, seconds: 0.2 },
      { kind: 'train', step: 4, loss: Number.NaN, accuracy: 0.5, lr: 0, grad_norm: 0.25, images_per_second: 13, seconds: 0.4 },
    ],
    evals: [{ kind: 'eval', step: 4, val_loss: 1.25, val_accuracy: 0.5, seconds: 0.5 }],
    spectra: [{ step: 4, spectrum: { module: 'vit.encoder.layer.0.attention.attention.query', rows: 3, cols: 2, singularValues: [2, 1e-9], numericalRank: 1, effectiveRank: 1.01, stableRank: 1 } }],
    result: {
      status: 'done',
      head: 'linear',
      method,
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
      classNames: ['cat', 'dog'],
      perClassAccuracy: [0.5, 1],
    },
    color: '#3257d6',
    createdAt: Date.parse('2026-12-01T10:00:00Z'),
  };
}

export function runFileFuzzTarget(): FuzzTarget {
  const text = runFileJson([seedView('a', 'lora'), seedView('b', 'full')], new Date('2026-12-01T12:00:00Z'));
  const seed = strToU8(text);
  const parsed = JSON.parse(text) as { runs: Array<Record<string, unknown>> };
  // Field-level damage: one field of the first run replaced by a boundary or wrongly typed value.
  const fields = fc
    .record({
      path: fc.constantFrom('spec', 'spec.method', 'spec.train', 'spec.targets', 'train', 'evals', 'spectra', 'result', 'result.confusion', 'result.classNames', 'color', 'createdAt', 'state'),
      value: fc.oneof(fc.constantFrom(null, 0, -1, 1e308, '', 'lora', 'nonsense', [], {}, [[1]], [null], { spectrum: null }), fc.double(), fc.string({ maxLength: 8 })),
    })
    .map(({ path, value }) => {
      const copy = structuredClone(parsed);
      const keys = path.split('.');
      let at: Record<string, unknown> = copy.runs[0];
      for (const k of keys.slice(0, -1)) at = (at[k] ?? {}) as Record<string, unknown>;
      at[keys[keys.length - 1]] = value;
      return strToU8(JSON.stringify(copy));
    });
  return {
    name: 'run files (.rankscope.json)',
    file: FILE,
    typed: [RunFileError],
    inputs: fc.oneof(mutated([seed], 1024), fields),
    async run(bytes) {
      const views = parseRunFile(new TextDecoder().decode(bytes), FILE, 0);
      const check = (ok: boolean, what: string) => {
        if (!ok) throw new InconsistentResult(what);
      };
      check(views.length > 0, 'no runs');
      for (const v of views) {
        check(v.spec.method in METHODS, `method ${v.spec.method}`);
        check(Array.isArray(v.train) && Array.isArray(v.evals) && Array.isArray(v.spectra), 'metrics are not lists');
        for (const m of v.train) check(typeof m.step === 'number' && typeof m.loss === 'number', `train record ${JSON.stringify(m)}`);
        const r = v.result;
        if (r) check(r.confusion.length === r.classNames.length && r.confusion.every((row) => row.length === r.classNames.length), 'confusion matrix not square over the classes');
        check(v.imported?.file === FILE, 'not marked as imported from the file');
      }
    },
  };
}
