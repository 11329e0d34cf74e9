import { describe, expect, it } from 'vitest';
import { linearHeadParams, parseKShots, parseNumberList } from './newStudy';

describe('study setup parsing', () => {
  it('reads budgets with commas, spaces and k suffixes, dropping repeats', () => {
    expect(parseNumberList('2000, 6k 20000;6000', 'Budgets', { min: 1 })).toEqual([2000, 6000, 20000]);
  });

  it('names the field and the value that does not read', () => {
    expect(() => parseNumberList('2000, lots', 'Budgets', { min: 1 })).toThrow(/Budgets: "lots" is not a whole number/);
    expect(() => parseNumberList('1.5', 'Seeds')).toThrow(/Seeds: "1.5"/);
    expect(() => parseNumberList('  ', 'Seeds')).toThrow(/Seeds: give at least one number/);
    expect(() => parseNumberList('0', 'Budgets', { min: 1 })).toThrow(/at least 1/);
  });

  it('reads k-shot values, "all" as the whole split', () => {
    expect(parseKShots('all, 1, 4')).toEqual([null, 1, 4]);
    expect(parseKShots('')).toEqual([null]);
    expect(parseKShots('16 16')).toEqual([16]);
    expect(() => parseKShots('0')).toThrow(/k-shot: "0"/);
    expect(() => parseKShots('half')).toThrow(/k-shot: "half"/);
  });

  it('counts a linear head as classes × hidden weights plus a bias per class (the demo: 245)', () => {
    expect(linearHeadParams({ hidden: 48 }, 5)).toBe(245);
  });
});
