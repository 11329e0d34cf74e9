import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { linearSites } from '../../models/names';
import { parseConfig } from '../../models/spec';
import { studyShape } from '../../study/plan';
import { DEMO } from '../demo';
import { planPageStudy } from './newStudy';
import { DEMO_STUDY } from './preset';

describe('the demo study preset', () => {
  it('matches LoRA r = 1, 2, 4 exactly on the demo ViT, with RandLoRA and VeRA at their closest settings', () => {
    const spec = parseConfig(JSON.parse(readFileSync(`public/${DEMO.modelFolder}config.json`, 'utf8')), 'config.json');
    const targets = [...DEMO.targets];
    const shape = studyShape(spec, targets, 5);
    const model = { source: DEMO.modelName, linearLayers: linearSites(spec).map((s) => ({ module: s.module, out: s.out, in: s.in })) };
    const study = planPageStudy(DEMO_STUDY, { model, counts: { head: shape.head, backbone: shape.backbone }, targets, train: {} as never, lr: {} });
    // 3 methods × 3 budgets × 3 seeds, and full fine-tuning and the probe per seed.
    expect(study.cells).toHaveLength(33);
    expect(study.headParams).toBe(245);
    const seed0 = study.cells.filter((c) => c.seed === 0);
    const at = (m: string) => seed0.filter((c) => c.method === m).map((c) => [c.setting, c.trainable_params]);
    expect(at('lora')).toEqual([
      ['r=1', 2261],
      ['r=2', 4277],
      ['r=4', 8309],
    ]);
    expect(at('vera').map(([, n]) => n)).toEqual([2261, 4277, 8309]);
    // RandLoRA moves in coarser steps (nb = ⌈48 / r⌉ bases per layer): within 15% of each budget.
    for (const [i, [, n]] of at('randlora').entries()) expect(Math.abs((n as number) - DEMO_STUDY.budgets[i]) / DEMO_STUDY.budgets[i]).toBeLessThan(0.15);
    expect(seed0.every((c) => c.reachable)).toBe(true);
  });
});
