import { describe, expect, it } from 'vitest';
import { checkTemplates, fillTemplate, numericClassNames, parseTemplateFile, averageClassEmbeddings, zeroShotHeadWeight } from '../../models/zeroShot';
import { samplePrompts, zeroShotClassNames, zeroShotRunSpec } from './zeroShotSpec';

describe('zero-shot settings', () => {
  it('a zero-shot run trains nothing: no steps, frozen head, no augmentation, named by its templates', () => {
    const s = zeroShotRunSpec('r1', { steps: 100, lr: 1e-3, templates: ['a {}.', 'the {}.'], augment: { crop: true } as never }, ['q_proj']);
    expect(s).toMatchObject({ id: 'r1', name: 'Zero-shot · 2 templates', method: 'probe', train: { steps: 0, head: 'zeroshot', templates: ['a {}.', 'the {}.'] } });
    expect(s.train.augment).toBeUndefined();
    expect(zeroShotRunSpec('r2', {}, []).name).toBe('Zero-shot · 1 template');
  });

  it('typed class names replace the data set’s only when every class has one', () => {
    expect(zeroShotClassNames(['0', '1'], ['cat', ' dog '])).toEqual(['cat', 'dog']);
    expect(zeroShotClassNames(['0', '1'], ['cat', ''])).toEqual(['0', '1']);
    expect(zeroShotClassNames(['0', '1'], undefined)).toEqual(['0', '1']);
    expect(numericClassNames(['0', '1', '2'])).toBe(true);
    expect(numericClassNames(['0', 'cat'])).toBe(false);
  });

  it('templates: "{}" is required, blank and # lines are dropped from files, every "{}" is filled', () => {
    expect(checkTemplates([' a photo of a {}. ', '', 'art of the {}.'])).toEqual(['a photo of a {}.', 'art of the {}.']);
    expect(() => checkTemplates(['a photo'])).toThrow(/"a photo" has no "\{\}"/);
    expect(() => checkTemplates(['', ' '])).toThrow(/empty/);
    expect(parseTemplateFile('# comment\r\na {}.\n\n', 't.txt')).toEqual(['a {}.']);
    expect(fillTemplate('{} and {}', 'x')).toBe('x and x');
    expect(samplePrompts(['a {}.', 'the {}.'], ['cat', 'dog'], 3)).toEqual(['a cat.', 'the cat.', 'a dog.']);
  });

  it('class embeddings: unit prompt embeddings averaged per class and normalised; the head scales them by exp(logit_scale)', () => {
    // Class 0: prompts (3,4) and (0,2) → units (0.6,0.8), (0,1) → mean (0.3,0.9) → normalised.
    const e = averageClassEmbeddings([3, 4, 0, 2, -1, 0, -5, 0], 2, 2, 2);
    const n = Math.hypot(0.3, 0.9);
    expect(Array.from(e.embeddings)).toEqual([0.3 / n, 0.9 / n, -1, 0].map(Math.fround));
    const w = zeroShotHeadWeight(e, Math.log(100));
    expect(w[2]).toBeCloseTo(-100, 4);
  });
});
