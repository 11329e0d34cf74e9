import { describe, expect, it } from 'vitest';
import { countsFromEstimates, parseKShots, parseNumberList, planPageStudy } from './newStudy';

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

  it('takes the head and backbone counts from the comparison table’s estimates', () => {
    expect(countsFromEstimates([{ method: 'probe', trainableParams: 245 }, { method: 'full', trainableParams: 100245 }])).toEqual({ head: 245, backbone: 100000 });
    expect(countsFromEstimates([{ method: 'probe', trainableParams: 245 }])).toBeUndefined();
  });

  it('plans on the targeted layers with the head counted as the spec says', () => {
    // Six 48 × 48 layers (q and v of three blocks): LoRA r = 1 trains 576 values, RandLoRA r = 48 as many.
    const linearLayers = [0, 1, 2].flatMap((b) => ['query', 'value'].map((t) => ({ module: `vit.encoder.layer.${b}.attention.attention.${t}`, out: 48, in: 48 })));
    linearLayers.push({ module: 'vit.encoder.layer.0.intermediate.dense', out: 96, in: 48 });
    const spec = { methods: ['lora', 'randlora'], budgets: [850], seeds: [0], kShots: [null], references: ['probe' as const], includeHead: true };
    const ctx = { model: { linearLayers, source: 'm' }, counts: { head: 245, backbone: 1e5 }, targets: ['query', 'value'], train: {} as never, lr: {} };
    const study = planPageStudy(spec, ctx, 'study-x');
    expect(study.rankLayer).toBe('vit.encoder.layer.0.attention.attention.query');
    expect(study.headParams).toBe(245);
    const byMethod = Object.fromEntries(study.cells.map((c) => [c.method, c]));
    expect(byMethod.lora).toMatchObject({ setting: 'r=1', trainable_params: 821, reachable: true });
    expect(byMethod.randlora).toMatchObject({ setting: 'r=48', trainable_params: 821 });
    expect(byMethod.probe.trainable_params).toBe(245);
    const bare = planPageStudy({ ...spec, includeHead: false }, ctx);
    expect(bare.cells.find((c) => c.method === 'lora')!.trainable_params).toBe(576);
    expect(() => planPageStudy(spec, { ...ctx, targets: ['key'] })).toThrow(/match the targets key/);
    // Below LoRA's least count (r = 1): out of reach, said in words.
    const low = planPageStudy({ ...spec, budgets: [500] }, ctx).cells.find((c) => c.method === 'lora')!;
    expect(low.reachable).toBe(false);
    expect(low.note).toMatch(/cannot go below 821/);
  });
});
