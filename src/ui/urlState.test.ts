import { describe, expect, it } from 'vitest';
import { TRAIN_DEFAULTS } from '../train/trainer';
import { defaultConfigs } from './state/methodStore';
import { fromSearchParams, readable, toSearchParams, type SharedConfig } from './urlState';

function base(): SharedConfig {
  return { method: 'lora', configs: defaultConfigs(), train: { ...TRAIN_DEFAULTS } };
}

describe('settings in the URL', () => {
  it('writes only what differs from the defaults, and reads it back', () => {
    const c = base();
    c.model = 'WinKawaks/vit-tiny-patch16-224';
    c.method = 'randlora';
    c.configs.randlora = { ...c.configs.randlora, r: 16 };
    c.configs.lora = { ...c.configs.lora, rslora: true, alpha: 16 };
    c.configs.nola = { ...c.configs.nola, init: 'nola' };
    c.targets = ['query', 'value', 'intermediate.dense'];
    c.train = { ...c.train, steps: 200, lr: 5e-4, labelSmoothing: 0.1 };
    const params = toSearchParams(c);
    expect(readable(params)).toBe(
      'model=WinKawaks/vit-tiny-patch16-224&method=randlora&lora.alpha=16&lora.rslora=1&randlora.r=16&nola.init=nola' +
        '&targets=query,value,intermediate.dense&steps=200&lr=0.0005&labelSmoothing=0.1',
    );
    const back = fromSearchParams(new URLSearchParams(readable(params)));
    expect(back.ignored).toEqual([]);
    expect(back.found).toBe(true);
    expect(back.config).toEqual(c);
  });

  it('keeps parameters it does not manage', () => {
    const params = toSearchParams(base(), new URLSearchParams('k=4&val=0.2&method=vera&lora.r=64'));
    expect(readable(params)).toBe('k=4&val=0.2&method=lora');
  });

  it('a page without settings restores nothing', () => {
    const r = fromSearchParams(new URLSearchParams('k=4'));
    expect(r.found).toBe(false);
    expect(r.config).toEqual(base());
  });

  it('ignores what it cannot use and says why', () => {
    const r = fromSearchParams(
      new URLSearchParams('method=lokr&lora.r=0&lora.r2=3&steps=ten&lr=-1&labelSmoothing=1&model=../etc&targets=query,a b&vera.r=32'),
    );
    expect(r.config.method).toBe('lora');
    expect(r.config.configs.lora.r).toBe(8);
    expect(r.config.configs.vera.r).toBe(32);
    expect(r.config.train.steps).toBe(TRAIN_DEFAULTS.steps);
    expect(r.config.model).toBeUndefined();
    expect(r.config.targets).toBeUndefined();
    expect(r.ignored).toEqual([
      'method=lokr: not a method; use one of lora, randlora, nola, vera, dora, full, probe.',
      'lora.r=0: LoRA r (rank) must be a whole number ≥ 1, not 0.',
      'lora.r2=3: LoRA has no setting "r2".',
      'steps=ten: Steps must be a whole number ≥ 1, not ten.',
      'lr=-1: Learning rate must be a number > 0, not -1.',
      'labelSmoothing=1: Label smoothing must be a number from 0 to below 1, not 1.',
      'model=../etc: not a Hugging Face model id (owner/name).',
      'targets=query,a b: a b is not a module name.',
    ]);
  });
});
