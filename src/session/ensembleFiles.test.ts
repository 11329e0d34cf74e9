import { describe, expect, it } from 'vitest';
import { CONTROLLER_DEFAULTS } from '../ensemble/controller';
import { ensembleReport, type CachedMember } from '../ensemble/report';
import { readSafetensors } from '../io/safetensors';
import { ensembleFiles } from './ensembleFiles';

/** Two members with random features and logits on 3 classes. */
function members(N: number): CachedMember[] {
  const labels = Int32Array.from({ length: N }, (_, n) => n % 3);
  return [1, 2].map((seed) => {
    const split = {
      features: Float32Array.from({ length: N * 2 }, (_, i) => Math.sin(seed * 7 + i)),
      logits: Float32Array.from({ length: N * 3 }, (_, i) => Math.cos(seed * 3 + i)),
      labels,
    };
    return { name: `m${seed}`, featureSize: 2, train: split, val: split };
  });
}

describe('ensembleFiles', () => {
  it('writes ensemble.json and the controller as safetensors', () => {
    const r = ensembleReport(members(12), 3, { ...CONTROLLER_DEFAULTS, steps: 2, width: 4 });
    const files = ensembleFiles(r.controller, ['a', 'b', 'c'], [
      { run: 'A', merged: 'members/a', head: 'linear', feature_size: 2 },
      { run: 'B', merged: 'members/b', head: 'linear', feature_size: 2 },
    ]);
    const spec = JSON.parse(new TextDecoder().decode(files.get('ensemble.json')));
    expect(spec.format).toBe('rankscope-ensemble');
    expect(spec.members.map((m: { merged: string }) => m.merged)).toEqual(['members/a', 'members/b']);
    const { tensors } = readSafetensors(files.get('controller.safetensors')!, { fileName: 'controller.safetensors' });
    expect(tensors.get('W1')!.shape).toEqual([4, 4]);
    expect(Array.from(tensors.get('b2')!.data)).toEqual(Array.from(r.controller.b2, (v) => Math.fround(v)));
    expect(new TextDecoder().decode(files.get('apply_ensemble.py'))).toContain('def ensemble_logits');
  });
});
