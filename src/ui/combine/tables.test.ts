import { describe, expect, it } from 'vitest';
import type { EnsembleOutcome } from '../../session/combineTypes';
import type { ComposeOutcome } from '../../session/composeTypes';
import { composeRows, ensembleRows, firstImage, imageStrip, nextDisagreement, temperatureBars } from './tables';

const ensemble = {
  accuracy: 0.8,
  members: [
    { runId: 'a', name: 'LoRA', accuracy: 0.6, head: 'linear', imageSize: 28, featureSize: 48 },
    { runId: 'b', name: 'Full', accuracy: 0.7, head: 'linear', imageSize: 28, featureSize: 48 },
  ],
  average: 0.72,
  oracle: 0.9,
  bestMember: 0.7,
  controllerParams: 1234,
  perImage: {
    labels: [0, 1, 2],
    memberPredictions: [
      [0, 1, 0],
      [0, 1, 2],
    ],
    ensemblePredictions: [0, 1, 2],
    temperatures: [
      [2, 2],
      [1.5, 3],
      [4, 0.5],
    ],
  },
} as unknown as EnsembleOutcome;

describe('ensemble tables', () => {
  it('lists each member, the average, the oracle and the ensemble', () => {
    const rows = ensembleRows(ensemble);
    expect(rows.map((r) => [r.kind, r.accuracy])).toEqual([
      ['member', 0.6],
      ['member', 0.7],
      ['average', 0.72],
      ['oracle', 0.9],
      ['ensemble', 0.8],
    ]);
    expect(rows[4].note).toContain('1,234 values');
  });

  it('gives each member its temperature and prediction for an image, and finds disagreements', () => {
    expect(temperatureBars(ensemble, 2)).toEqual([
      { name: 'LoRA', temperature: 4, predicted: 0, correct: false },
      { name: 'Full', temperature: 0.5, predicted: 2, correct: true },
    ]);
    expect(temperatureBars(ensemble, 7)).toEqual([]);
    expect(nextDisagreement(ensemble, 0)).toBe(2);
    expect(nextDisagreement(ensemble, 2)).toBe(2);
  });

  it('shapes the kept thumbnails into a strip in row order, marking disagreements and the ensemble\'s mistakes', () => {
    const thumb = (row: number) => ({ row, width: 1, height: 1, rgba: new Uint8ClampedArray(4) });
    const withThumbs = {
      ...ensemble,
      perImage: { ...ensemble.perImage, ensemblePredictions: [0, 2, 2] },
      // Out of order, and one row past the split (a damaged archive entry) that must be left out.
      thumbnails: [thumb(2), thumb(0), thumb(1), thumb(9)],
    } as EnsembleOutcome;
    expect(imageStrip(withThumbs).map((s) => [s.row, s.label, s.disagree, s.ensembleRight])).toEqual([
      [0, 0, false, true],
      [1, 1, false, false],
      [2, 2, true, true],
    ]);
    expect(firstImage(withThumbs)).toBe(2);
    // Only agreeing rows kept: the first of them.
    expect(firstImage({ ...withThumbs, thumbnails: [thumb(1), thumb(0)] } as EnsembleOutcome)).toBe(0);
    // Archived before thumbnails were kept: no strip, and the index view starts at the first disagreement.
    expect(imageStrip(ensemble)).toEqual([]);
    expect(firstImage(ensemble)).toBe(2);
  });
});

describe('compose table', () => {
  it('puts the base first, then members, the plain sum and the composition', () => {
    const o = {
      baseAccuracy: 0.3,
      sumAccuracy: 0.5,
      finalValAccuracy: 0.6,
      members: [{ name: 'LoRA', accuracy: null, note: 'trained on other classes' }],
      coefficients: { taskVectors: ['LoRA'], blocks: ['a', 'b'], layerOf: ['l', 'l'], groups: 1, values: [[[0], [0]]] },
    } as unknown as ComposeOutcome;
    expect(composeRows(o).map((r) => [r.kind, r.accuracy, r.note?.slice(0, 24)])).toEqual([
      ['base', 0.3, 'λ = 0, a head trained by'],
      ['member', null, 'trained on other classes'],
      ['sum', 0.5, 'λ = 1 everywhere, a head'],
      ['composed', 0.6, '1 task vectors × 2 block'],
    ]);
  });

  it('says when the head was CLIP’s frozen zero-shot head (the base is then zero-shot)', () => {
    const o = {
      baseAccuracy: 0.3,
      sumAccuracy: 0.5,
      finalValAccuracy: 0.6,
      head: 'zeroshot',
      members: [],
      coefficients: { taskVectors: [], blocks: [], layerOf: [], groups: 1, values: [] },
    } as unknown as ComposeOutcome;
    const rows = composeRows(o);
    expect(rows[0]).toMatchObject({ label: 'Base model θ₀ (zero-shot)', note: 'λ = 0, the frozen zero-shot head' });
    expect(rows[1].note).toBe('λ = 1 everywhere, the frozen zero-shot head');
  });
});
