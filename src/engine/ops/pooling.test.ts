import { describe, expect, it } from 'vitest';
import { useGpu, testData } from '../../testing/gpu';
import { cotangent, dot64, f32Round, numericGradient, relErr } from '../../testing/gradcheck';
import { Tensor } from '../tensor';
import { clsPool64, clsPoolBackward64 } from '../reference/pooling';
import { clsPool, clsPoolBackward } from './pooling';

const gpu = useGpu();

describe('class-token pooling', () => {
  it('float64 backward matches central finite differences', () => {
    const [B, T, D] = [2, 4, 3];
    const x = testData(B * T * D, 1);
    const cot = cotangent(B * D, 2);
    expect(relErr(clsPoolBackward64(cot, B, T, D), numericGradient((v) => dot64(clsPool64(v, B, T, D), cot), x))).toBeLessThan(1e-9);
  });

  it('GPU forward and backward equal the reference exactly (pure data movement)', async () => {
    const { ctx } = gpu();
    const [B, T, D] = [2, 197, 12];
    const x64 = f32Round(testData(B * T * D, 3));
    const x = Tensor.from(ctx, [B, T, D], Float32Array.from(x64));
    const pooled = clsPool(x);
    expect(pooled.shape).toEqual([B, D]);
    expect(Array.from(await pooled.read())).toEqual(Array.from(clsPool64(x64, B, T, D)));
    // Backward into a buffer that held garbage: it must come back zero except token 0.
    const dx = clsPoolBackward(pooled, T, { dx: x });
    expect(Array.from(await dx.read())).toEqual(Array.from(clsPoolBackward64(clsPool64(x64, B, T, D), B, T, D)));
    const other = clsPool(dx, 5);
    expect(Array.from(await other.read()).every((v) => v === 0)).toBe(true);
    expect(() => clsPool(x, T)).toThrow(/token 197 is outside 197 tokens/);
    for (const t of [x, pooled, other]) t.release();
  });
});
