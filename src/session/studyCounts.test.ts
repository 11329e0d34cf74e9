import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../models/spec';
import { planStudy, studyShape } from '../study/plan';
import { estimateRun } from './estimate';

describe('a study counts what the comparison table counts', () => {
  it('every cell’s trainable_params (head included) equals estimateRun’s for the same settings', () => {
    const spec = parseConfig(JSON.parse(readFileSync('public/models/rankscope-vit-fmnist5/config.json', 'utf8')));
    const targets = ['query', 'value', 'intermediate.dense'];
    const cells = planStudy(
      { methods: ['lora', 'randlora', 'vera', 'nola', 'dora'], budgets: [1500, 5000], seeds: [0], kShots: [null], references: ['full', 'probe'], includeHead: true },
      studyShape(spec, targets, 7),
    );
    for (const c of cells) {
      const e = estimateRun(spec, { id: c.key, name: c.key, method: c.method as never, methodConfig: c.config, targets, train: {} }, 7);
      expect(c.trainable_params, c.key).toBe(e.trainableParams);
    }
  });
});
