/** The GPU dialog's reduction line and help text, for each path and reason. */
import { describe, expect, it } from 'vitest';
import { subgroupsSetting } from './lab';
import { reductionHelp, reductionLine } from './reductions';

const base = { layerNormOneLaneCols: 256 };

describe('reduction path words', () => {
  it('names the ops on the subgroup path, and how to compare with the other', () => {
    const s = { ...base, path: 'subgroup' as const, ops: ['layernorm', 'cross-entropy'], subgroupSizes: { min: 4, max: 4 } };
    expect(reductionLine(s)).toBe('Reductions: subgroup (layernorm, cross-entropy)');
    const help = reductionHelp(s);
    expect(help).toContain('(4 lanes here)');
    expect(help).toContain('at most 256 values');
    expect(help).toMatch(/softmax runs inside the fused attention kernel.*no cross-lane reduction/);
    expect(help).toContain('?subgroups=0');
    expect(reductionHelp({ ...s, subgroupSizes: { min: 32, max: 64 } })).toContain('(32–64 lanes here)');
  });

  it('says why the workgroup path runs', () => {
    const off = { ...base, path: 'workgroup' as const, ops: [] };
    expect(reductionLine({ ...off, reason: 'switched-off' })).toBe('Reductions: workgroup shared memory (turned off by ?subgroups=0)');
    expect(reductionHelp({ ...off, reason: 'switched-off' })).toContain('?subgroups=1');
    expect(reductionLine({ ...off, reason: 'no-feature' })).toBe('Reductions: workgroup shared memory (no subgroups feature on this GPU)');
    expect(reductionHelp({ ...off, reason: 'no-feature' })).not.toContain('?subgroups');
  });

  it('reads the page switch the line refers to', () => {
    expect(subgroupsSetting('?subgroups=0')).toBe(false);
    expect(subgroupsSetting('?subgroups=1')).toBe(true);
  });
});
