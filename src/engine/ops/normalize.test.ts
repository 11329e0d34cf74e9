import { describe, expect, it } from 'vitest';
import { useGpu, testData, f32Tolerance } from '../../testing/gpu';
import { cotangent, dot64, f32Round, numericGradient, relErr } from '../../testing/gradcheck';
import { maxRelError } from '../reference/linalg';
import { l2Normalize64, l2NormalizeBackward64 } from '../reference/normalize';
import { Tensor } from '../tensor';
import { l2Normalize, l2NormalizeBackward } from './normalize';

const gpu = useGpu();

describe('l2 normalisation', () => {
  it('float64 backward matches central finite differences', () => {
    const x = testData(12, 3);
    const cot = cotangent(12, 4);
    const g = l2NormalizeBackward64(cot, x, 4);
    expect(relErr(g, numericGradient((xx) => dot64(l2Normalize64(xx, 4), cot), x))).toBeLessThan(1e-7);
  });

  for (const [rows, cols] of [
    [1, 7],
    [65, 33],
    [3, 512],
  ]) {
    it(`(${rows}, ${cols}): forward gives unit rows and forward/backward match float64`, async () => {
      const x = f32Round(testData(rows * cols, rows + cols, -3, 3));
      const dy = f32Round(testData(rows * cols, rows + cols + 1));
      const X = Tensor.from(gpu().ctx, [rows, cols], Float32Array.from(x));
      const DY = Tensor.from(gpu().ctx, [rows, cols], Float32Array.from(dy));
      const saved = l2Normalize(X);
      const y = await saved.y.read();
      expect(maxRelError(y, l2Normalize64(x, cols))).toBeLessThan(f32Tolerance(cols));
      let s = 0;
      for (let j = 0; j < cols; j++) s += y[j] ** 2;
      expect(s).toBeCloseTo(1, 5);
      const dx = l2NormalizeBackward(DY, saved);
      expect(maxRelError(await dx.read(), l2NormalizeBackward64(dy, x, cols))).toBeLessThan(2 * f32Tolerance(cols));
      for (const t of [X, DY, saved.y, saved.rnorm, dx]) t.release();
    });
  }
});
