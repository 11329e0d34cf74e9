import { describe, expect, it } from 'vitest';
import { rankSummary } from './rank';
import { formatField, parseField, METHOD_FIELDS, TRAIN_FIELDS } from './fields';
import { METHODS } from '../../methods/registry';
import { TRAIN_DEFAULTS } from '../../train/trainer';

const layer = (rank: number, full: number) => ({ module: 'm', rank, full });

describe('rank summary', () => {
  it('says how much of each layer the update can reach', () => {
    expect(rankSummary({ method: 'lora', trainableParams: 1, memoryBytes: 1, maxRank: [layer(8, 192), layer(8, 192)] })).toEqual({ text: '≤ 8 of 192', fraction: 8 / 192, full: false });
    expect(rankSummary({ method: 'randlora', trainableParams: 1, memoryBytes: 1, maxRank: [layer(192, 192)] })).toMatchObject({ text: 'full rank (192)', full: true });
    expect(rankSummary({ method: 'vera', trainableParams: 1, memoryBytes: 1, maxRank: [layer(32, 32), layer(32, 64)] }).text).toBe('≤ 32 of 32–64');
    expect(rankSummary({ method: 'probe', trainableParams: 1, memoryBytes: 1, maxRank: [] }).text).toBe('none: the backbone stays frozen');
    expect(rankSummary({ method: 'lora', trainableParams: 1, memoryBytes: 1, maxRank: [] }).text).toBe('none: no target layers chosen');
  });
});

describe('setting fields', () => {
  it('cover every default of every method and of training, and accept the defaults', () => {
    for (const [id, m] of Object.entries(METHODS)) {
      const fields = METHOD_FIELDS[id as keyof typeof METHODS];
      expect(fields.map((f) => f.key).sort()).toEqual(Object.keys(m.defaults).sort());
      const defaults = m.defaults as Record<string, unknown>;
      for (const f of fields) expect(parseField(f, formatField(f, defaults[f.key]))).toEqual({ value: defaults[f.key] });
    }
    for (const f of TRAIN_FIELDS) expect(parseField(f, String(TRAIN_DEFAULTS[f.key]))).toEqual({ value: TRAIN_DEFAULTS[f.key] });
  });

  it('explain a value they refuse', () => {
    const r = METHOD_FIELDS.lora[0];
    expect(parseField(r, '2.5')).toEqual({ error: 'LoRA r (rank) must be a whole number ≥ 1, not 2.5.' });
    expect(parseField(r, '')).toEqual({ error: 'LoRA r (rank) must be a whole number ≥ 1.' });
    expect(parseField(TRAIN_FIELDS.find((f) => f.key === 'lr')!, '1e-4')).toEqual({ value: 1e-4 });
  });
});
