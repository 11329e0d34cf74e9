import { describe, expect, it } from 'vitest';
import { useGpu, testData } from '../../testing/gpu';
import { cotangent, dot64, f32Round, numericGradient, relErr } from '../../testing/gradcheck';
import { Tensor } from '../tensor';
import { maxRelError } from '../reference/linalg';
import { biasAdd64 } from '../reference/elementwise';
import { sumRows64 } from '../reference/reduce';
import { sumRows } from './reduce';

const gpu = useGpu();

// One f32 addition per value on top of the inputs' rounding.
const ELEMENTWISE_TOL = 2e-6;

function upload(shape: number[], data: ArrayLike<number>): Tensor {
  return Tensor.from(gpu().ctx, shape, Float32Array.from(data));
}

describe('sumRows (bias gradients)', () => {
  it('is the gradient of a bias add (float64 reference against finite differences)', () => {
    const [rows, cols] = [5, 4];
    const x = testData(rows * cols, 1);
    const bias = testData(cols, 2);
    const cot = cotangent(rows * cols, 3);
    const fd = numericGradient((b) => dot64(biasAdd64(x, b), cot), bias);
    expect(relErr(sumRows64(cot, rows, cols), fd)).toBeLessThan(1e-9);
  });

  const cases = [
    { rows: 7, cols: 65 },
    { rows: 1, cols: 3 },
    // Above the single-pass limit: two launches (row chunks, then their partial sums).
    { rows: 2 * 197 * 3, cols: 12 },
  ];
  for (const { rows, cols } of cases) {
    it(`${rows}x${cols}`, async () => {
      const x64 = f32Round(testData(rows * cols, rows + cols));
      const x = upload([rows, cols], x64);
      const s = sumRows(x);
      expect(s.shape).toEqual([cols]);
      // f32 sums of `rows` terms of size ≤ 1: error ≤ rows·2⁻²⁴·Σ|x| against a sum of size ~√rows.
      expect(maxRelError(await s.read(), sumRows64(x64, rows, cols))).toBeLessThan(4 * rows * 2 ** -24 + 1e-6);
      for (const t of [x, s]) t.release();
    });
  }

  it('strided view with offset, alpha and accumulate', async () => {
    // dPrefix-like: the first 2 rows of 12 of each of 3 batch entries of (3, 9, 12).
    const x64 = f32Round(testData(3 * 9 * 12, 21));
    const x = upload([3, 9, 12], x64);
    const acc64 = f32Round(testData(24, 22));
    const acc = upload([24], acc64);
    sumRows(x, { rows: 3, cols: 24, rowStride: 108, offset: 12, alpha: 0.5, out: acc, accumulate: true });
    const ref = sumRows64(x64, 3, 24, 108, 12).map((v, i) => 0.5 * v + acc64[i]);
    expect(maxRelError(await acc.read(), ref)).toBeLessThan(ELEMENTWISE_TOL);
    expect(() => sumRows(x, { rows: 3, cols: 24, rowStride: 108, offset: 100 })).toThrow(/overrun/);
    for (const t of [x, acc]) t.release();
  });
});

