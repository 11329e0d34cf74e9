/** The page's ?mixed= switch: on, off, or the device's default when absent. */
import { describe, expect, it } from 'vitest';
import { mixedPrecisionSetting } from './lab';
import { precisionText } from '../train/precision';

describe('mixed precision page switch', () => {
  it('reads ?mixed=1 / ?mixed=0, and leaves the default when absent', () => {
    expect(mixedPrecisionSetting('?mixed=1')).toBe(true);
    expect(mixedPrecisionSetting('?autotune=0&mixed=0')).toBe(false);
    expect(mixedPrecisionSetting('?autotune=0')).toBeUndefined();
    expect(mixedPrecisionSetting('')).toBeUndefined();
  });
  it('says which precision runs and why', () => {
    expect(precisionText({ mixed: true, shaderF16: true, chosen: false })).toMatch(/^Mixed precision \(the default where the GPU has shader-f16\).*\?mixed=0/);
    expect(precisionText({ mixed: false, shaderF16: true, chosen: true })).toMatch(/^f32 \(as chosen\).*\?mixed=1/);
  });
});
