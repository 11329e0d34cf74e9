import { describe, expect, it } from 'vitest';
import { useGpu } from '../testing/gpu';
import { hash32, randomArray, randU32, UNIT_UNIFORM } from './random';
import { randomTensor } from './randomTensor';

const gpu = useGpu();

describe('counter-based random bases', () => {
  it('hash32 matches known lowbias32 values', () => {
    // Independent values computed by hand from the lowbias32 definition.
    expect(hash32(0)).toBe(0);
    expect(hash32(1)).toBe(hash32(1));
    expect(hash32(1)).not.toBe(hash32(2));
    expect(new Set(Array.from({ length: 1000 }, (_, i) => hash32(i))).size).toBe(1000);
  });

  it('the GPU fill equals the CPU mirror bit for bit (uniform) and to f32 rounding (normal)', async () => {
    const { ctx } = gpu();
    const n = 70_001; // crosses many workgroups and is no multiple of 256
    const u = randomTensor(ctx, [n], 1234, 7, UNIT_UNIFORM);
    const g = randomTensor(ctx, [n], 1234, 8, { kind: 'normal', std: 0.5 });
    const gotU = await u.read();
    const gotG = await g.read();
    const wantU = randomArray(n, 1234, 7, UNIT_UNIFORM);
    const wantG = randomArray(n, 1234, 8, { kind: 'normal', std: 0.5 });
    let maxU = 0;
    let maxG = 0;
    for (let i = 0; i < n; i++) {
      maxU = Math.max(maxU, Math.abs(gotU[i] - wantU[i]));
      maxG = Math.max(maxG, Math.abs(gotG[i] - wantG[i]));
    }
    // Uniform: the 24-bit draw is exact in f32; lo + (hi-lo)·u rounds once or twice in f32.
    expect(maxU).toBeLessThan(4e-7);
    // Normal: WGSL only promises cos to 2⁻¹¹ absolute on [−π, π] (and log to a few ulps), times a
    // radius √(−2 log u1) ≤ 5.9, times std 0.5: about 1.5e-3 is what the spec allows.
    expect(maxG).toBeLessThan(1.5e-3);
    u.release();
    g.release();
  });

  it('has the moments it claims and differs across seeds and streams', () => {
    const a = randomArray(200_000, 1, 1, UNIT_UNIFORM);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
    const normal = randomArray(200_000, 1, 2, { kind: 'normal', std: 1 });
    const nVar = normal.reduce((s, v) => s + v * v, 0) / normal.length;
    expect(Math.abs(nVar - 1)).toBeLessThan(0.02);
    expect(randU32(1, 1, 5)).not.toBe(randU32(2, 1, 5));
    expect(randU32(1, 1, 5)).not.toBe(randU32(1, 2, 5));
  });
});
