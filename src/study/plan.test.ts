import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { methodById } from '../methods/registry';
import { parseConfig } from '../models/spec';
import { cellKey, matchBudget, planStudy, studyShape } from './plan';

// The demo's backbone (hidden 48, MLP 96, 3 blocks) with the demo's targets: 18 layers.
const spec = parseConfig(JSON.parse(readFileSync('public/models/rankscope-vit-fmnist5/config.json', 'utf8')));
const TARGETS = ['query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'];
const shape = studyShape(spec, TARGETS, 5);

describe('studyShape', () => {
  it('finds the demo’s 18 targeted layers and its 5-class head (5·48 + 5)', () => {
    expect(shape.layers).toHaveLength(18);
    expect(shape.head).toBe(245);
  });
});

describe('matchBudget', () => {
  it('takes the setting closest to the budget, for every method with a knob', () => {
    for (const id of ['lora', 'dora', 'randlora', 'vera', 'nola'])
      for (const budget of [2500, 6000, 20000]) {
        const m = matchBudget(id, budget, shape.layers, {}, { head: shape.head });
        const method = methodById(id);
        expect(m.trainable_params).toBe(shape.head + method.countParams(m.config as never, shape.layers));
        // No value of the knob in its range comes closer.
        const [lo, hi] = method.budget!.range(shape.layers);
        for (let v = lo; v <= hi; v++) {
          const n = shape.head + method.countParams(method.budget!.apply(m.config as never, v), shape.layers);
          expect(Math.abs(n - budget)).toBeGreaterThanOrEqual(Math.abs(m.trainable_params - budget));
        }
      }
  });

  it('gives the counts by hand on the demo layers', () => {
    // LoRA: r·(in + out) per layer = 2016·r over the 18 layers; 6000 − 245 → r = 3 (6,293).
    expect(matchBudget('lora', 6000, shape.layers, {}, { head: 245 })).toMatchObject({ setting: 'r=3', trainable_params: 6293, reachable: true });
    // NOLA: 2k per layer → k = 160 gives 36·160 + 245 = 6,005.
    expect(matchBudget('nola', 6000, shape.layers, {}, { head: 245 })).toMatchObject({ setting: 'k=160', trainable_params: 6005 });
    expect(matchBudget('nola', 6000, shape.layers, {}, { head: 245 }).config).toMatchObject({ ka: 160, kb: 160 });
    // VeRA: Σout + 18·r = 1,008 + 18r; (6000 − 245 − 1008)/18 = 263.7 → r = 264.
    expect(matchBudget('vera', 6000, shape.layers, {}, { head: 245 })).toMatchObject({ setting: 'r=264', trainable_params: 245 + 1008 + 18 * 264 });
    // Without the head the budget is the method's alone.
    expect(matchBudget('lora', 6048, shape.layers).trainable_params).toBe(6048);
  });

  it('says plainly when a budget is out of a method’s reach', () => {
    const lo = matchBudget('lora', 2000, shape.layers, {}, { head: 245 });
    expect(lo).toMatchObject({ setting: 'r=1', trainable_params: 2261, reachable: false });
    expect(lo.note).toMatch(/LoRA cannot go below 2,261 values \(head included\) \(r=1\); budget 2,000 is out of reach/);
    // RandLoRA's most is at r = 1 (48 bases of the 48-wide side): 18·(48 + 48·48) + 245.
    const hi = matchBudget('randlora', 1e6, shape.layers, {}, { head: 245 });
    expect(hi).toMatchObject({ setting: 'r=1', trainable_params: 18 * (48 + 48 * 48) + 245, reachable: false });
    expect(hi.note).toMatch(/cannot go above 42,581 values/);
    expect(() => matchBudget('full', 1000, shape.layers)).toThrow(/no setting that moves its trainable count/);
  });

  it('keeps s = α/r as in the base settings unless told to keep α', () => {
    // PEFT's RandLoRA defaults r = 32, α = 640: a factor of 20 that follows r.
    const m = matchBudget('randlora', 2000, shape.layers, {}, { head: 245 });
    expect(m.config.alpha).toBe(20 * (m.config.r as number));
    expect(matchBudget('randlora', 2000, shape.layers, {}, { head: 245, scale: 'fixed' }).config.alpha).toBe(640);
    expect(matchBudget('lora', 6000, shape.layers, { alpha: 16, r: 8 }, { head: 245 }).config).toMatchObject({ r: 3, alpha: 6 });
    // NOLA's knob is k, not its rank: c stays.
    expect(matchBudget('nola', 6000, shape.layers, { c: 2 }).config.c).toBe(2);
  });
});

describe('planStudy', () => {
  it('lays out references and method × budget per seed and k-shot, with stable keys', () => {
    const cells = planStudy(
      { methods: ['lora', 'randlora'], budgets: [3000, 6000], seeds: [0, 1], kShots: [null, 4], references: ['full', 'probe'], includeHead: true },
      shape,
    );
    expect(cells).toHaveLength(2 * 2 * (2 + 2 * 2));
    expect(cells.slice(0, 6).map((c) => c.key)).toEqual(['full|ref|s=0|k=all', 'probe|ref|s=0|k=all', 'lora|b=3000|s=0|k=all', 'lora|b=6000|s=0|k=all', 'randlora|b=3000|s=0|k=all', 'randlora|b=6000|s=0|k=all']);
    expect(new Set(cells.map((c) => c.key)).size).toBe(cells.length);
    expect(cells.find((c) => c.key === cellKey('lora', 6000, 1, 4))).toMatchObject({ seed: 1, k_shot: 4, budget: 6000, setting: 'r=3', trainable_params: 6293 });
    const probe = cells.find((c) => c.method === 'probe')!;
    expect(probe).toMatchObject({ trainable_params: 245, reference: true, budget: null });
    expect(cells.find((c) => c.method === 'full')!.trainable_params).toBe(shape.backbone + 245);
    const noHead = planStudy({ methods: ['lora'], budgets: [6048], seeds: [0], kShots: [], references: ['probe'], includeHead: false }, shape);
    expect(noHead.map((c) => c.trainable_params)).toEqual([0, 6048]);
  });
});
