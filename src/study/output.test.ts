import { describe, expect, it } from 'vitest';
import { CSV_COLUMNS, studyCsv } from './csv';
import { studySvg } from './svg';
import type { StudyRow } from './types';

const base: StudyRow = {
  key: 'lora|b=6000|s=0|k=all',
  method: 'lora',
  config: { r: 3 },
  setting: 'r=3',
  trainable_params: 6293,
  budget: 6000,
  seed: 0,
  k_shot: null,
  reference: false,
  reachable: true,
  status: 'done',
  best_val_accuracy: 0.8,
  final_val_accuracy: 0.78,
  rank_numerical: 3,
  rank_effective: 2.5,
  intruders: 4,
  seconds: 12.5,
};

describe('studyCsv', () => {
  it('writes a header and one quoted-where-needed row per run', () => {
    const csv = studyCsv([base, { ...base, key: 'x', seed: 1, note: 'NOLA cannot go below 1,234 values, "really"', rank_effective: NaN }]);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    expect(lines[1]).toBe('lora|b=6000|s=0|k=all,lora,r=3,6293,6000,0,,false,true,done,0.8,0.78,3,2.5,4,12.5,,');
    expect(lines[2].endsWith(',"NOLA cannot go below 1,234 values, ""really"""')).toBe(true);
    expect(lines[2]).toContain(',3,,4,'); // NaN effective rank left empty
    expect(lines).toHaveLength(4);
  });
});

describe('studySvg', () => {
  it('draws a point with an error bar per method and budget, and references as bands', () => {
    const rows: StudyRow[] = [];
    for (const seed of [0, 1]) {
      rows.push({ ...base, seed, best_val_accuracy: 0.8 + seed * 0.02 });
      rows.push({ ...base, budget: 20000, trainable_params: 20405, setting: 'r=10', seed, best_val_accuracy: 0.85 });
      rows.push({ ...base, method: 'randlora', setting: 'r=8', trainable_params: 6100, seed, best_val_accuracy: 0.82 });
      rows.push({ ...base, method: 'full', budget: null, reference: true, setting: '', trainable_params: 90000, seed, best_val_accuracy: 0.9 + seed * 0.01 });
    }
    const svg = studySvg(rows, { labels: { lora: 'LoRA', randlora: 'RandLoRA' } });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<circle cx/g)).toHaveLength(3 + 2); // 3 points + 2 method legend markers
    expect(svg).toContain('data-reference="full"');
    expect(svg).toContain('data-method="randlora"');
    expect(svg).toContain('LoRA r=3: 6,293 values, 81.00 ± 1.41 (n=2)');
    expect(svg).toContain('full 90.5 ± 0.7 (n=2)');
    expect(svg).not.toMatch(/NaN/);
    expect(studySvg([])).toContain('No finished runs yet.');
  });
});
