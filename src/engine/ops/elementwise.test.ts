import { describe, expect, it } from 'vitest';
import { useGpu, testData } from '../../testing/gpu';
import { cotangent, dot64, f32Round, numericGradient, relErr } from '../../testing/gradcheck';
import { Tensor } from '../tensor';
import { maxRelError } from '../reference/linalg';
import {
  activationBackward64,
  activationForward64,
  biasAdd64,
  gelu64,
  geluGrad64,
  quickGelu64,
  quickGeluGrad64,
  type Activation64,
} from '../reference/elementwise';
import {
  accumulate,
  activation,
  activationBackward,
  add,
  biasAdd,
  broadcastAdd,
  castToF32,
  combine,
  copy,
  copyRange,
  scale,
} from './elementwise';
import { grid1D } from './kernel';

const gpu = useGpu();

// Element-wise results involve one or two f32 roundings per value (and the erf approximation,
// |error| < 1.5e-7 absolute), so a few ulps of the largest magnitude bound any correct result;
// an indexing or broadcast bug gives errors of order 1.
const ELEMENTWISE_TOL = 2e-6;

function upload(shape: number[], data: ArrayLike<number>): Tensor {
  return Tensor.from(gpu().ctx, shape, Float32Array.from(data));
}

describe('element-wise arithmetic', () => {
  const R = 7;
  const N = 65;
  const a64 = f32Round(testData(R * N, 1));
  const b64 = f32Round(testData(R * N, 2));
  const bias64 = f32Round(testData(N, 3));

  it('add out of place and in place into either operand', async () => {
    const want = a64.map((v, i) => v + b64[i]);
    const a = upload([R, N], a64);
    const b = upload([R, N], b64);
    const out = add(a, b);
    expect(maxRelError(await out.read(), want)).toBeLessThan(ELEMENTWISE_TOL);
    add(a, b, a);
    expect(maxRelError(await a.read(), want)).toBeLessThan(ELEMENTWISE_TOL);
    const c = upload([R, N], a64);
    add(c, b, b);
    expect(maxRelError(await b.read(), want)).toBeLessThan(ELEMENTWISE_TOL);
    add(c, c, c);
    expect(maxRelError(await c.read(), a64.map((v) => 2 * v))).toBeLessThan(ELEMENTWISE_TOL);
    for (const t of [a, b, c, out]) t.release();
  });

  it('combine, accumulate and scale (gradient accumulation and averaging)', async () => {
    const a = upload([R, N], a64);
    const b = upload([R, N], b64);
    const c = combine(a, b, 0.5, -2);
    expect(maxRelError(await c.read(), a64.map((v, i) => 0.5 * v - 2 * b64[i]))).toBeLessThan(ELEMENTWISE_TOL);
    accumulate(a, b, 3, 0.25);
    expect(maxRelError(await a.read(), a64.map((v, i) => 0.25 * v + 3 * b64[i]))).toBeLessThan(ELEMENTWISE_TOL);
    scale(b, -1.5, b);
    expect(maxRelError(await b.read(), b64.map((v) => -1.5 * v))).toBeLessThan(ELEMENTWISE_TOL);
    const s = scale(c, 0);
    expect(Array.from(await s.read()).every((v) => v === 0)).toBe(true);
    for (const t of [a, b, c, s]) t.release();
  });

  it('bias add over rows and broadcast add over a batch, out of place and in place', async () => {
    const x = upload([R, N], a64);
    const bias = upload([N], bias64);
    const y = biasAdd(x, bias);
    expect(maxRelError(await y.read(), biasAdd64(a64, bias64))).toBeLessThan(ELEMENTWISE_TOL);
    biasAdd(x, bias, x);
    expect(maxRelError(await x.read(), biasAdd64(a64, bias64))).toBeLessThan(ELEMENTWISE_TOL);
    // (B=1·7 rows of 65) + a (5, 13)-shaped table that tiles it 7 times.
    const table = upload([5, 13], bias64);
    const z = broadcastAdd(y, table);
    expect(maxRelError(await z.read(), biasAdd64(biasAdd64(a64, bias64), bias64))).toBeLessThan(ELEMENTWISE_TOL);
    expect(() => biasAdd(x, upload([N + 1], testData(N + 1, 4)))).toThrow(/bias has shape \[66\], needs 65/);
    for (const t of [x, bias, y, table, z]) t.release();
  });

  it('copy and copyRange move exact bits', async () => {
    const a = upload([R, N], a64);
    const c = copy(a);
    expect(Array.from(await c.read())).toEqual(Array.from(Float32Array.from(a64)));
    const d = Tensor.zeros(gpu().ctx, [10]);
    copyRange(a, 3, d, 2, 5);
    const got = await d.read();
    expect(Array.from(got)).toEqual([0, 0, ...Array.from(Float32Array.from(a64.subarray(3, 8))), 0, 0, 0]);
    expect(() => copyRange(a, 0, d, 8, 5)).toThrow(/out of bounds/);
    for (const t of [a, c, d]) t.release();
  });

  it('folds large launches into a 2-D grid under 65535 workgroups per dimension', () => {
    expect(grid1D(1)).toEqual([1, 1]);
    expect(grid1D(65535 * 256)).toEqual([65535, 1]);
    const [x, y] = grid1D(38_000_000);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y * 256).toBeGreaterThanOrEqual(38_000_000);
  });
});

describe('GELU and quick_gelu', () => {
  // Pre-activations over [-6, 6]: both tails and the curved middle.
  const n = 197 * 12;
  const x64 = f32Round(testData(n, 11, -6, 6));
  const dy64 = f32Round(testData(n, 12));

  it('float64 derivatives match central finite differences', () => {
    const pts = [-5.5, -2.1, -0.7, -1e-3, 0, 0.3, 1.2, 4.9];
    for (const [f, g] of [
      [gelu64, geluGrad64],
      [quickGelu64, quickGeluGrad64],
    ] as const) {
      for (const p of pts) {
        const fd = numericGradient((v) => f(v[0]), Float64Array.of(p), 1e-5)[0];
        expect(Math.abs(fd - g(p))).toBeLessThan(1e-9);
      }
    }
    // The vector form, through a random cotangent, as the other ops are checked.
    const xs = x64.subarray(0, 20).slice();
    const w = cotangent(20, 5);
    const analytic = activationBackward64(xs, w, 'gelu');
    const numeric = numericGradient((v) => dot64(activationForward64(v, 'gelu'), w), xs);
    expect(relErr(analytic, numeric)).toBeLessThan(1e-8);
  });

  for (const act of ['gelu', 'quick_gelu'] as Activation64[]) {
    it(`${act}: forward and backward (out of place and in place into dY) against float64`, async () => {
      const x = upload([197, 12], x64);
      const dy = upload([197, 12], dy64);
      const y = activation(x, act);
      expect(maxRelError(await y.read(), activationForward64(x64, act))).toBeLessThan(ELEMENTWISE_TOL);
      const want = activationBackward64(x64, dy64, act);
      const dx = activationBackward(x, dy, act);
      expect(maxRelError(await dx.read(), want)).toBeLessThan(ELEMENTWISE_TOL);
      activationBackward(x, dy, act, dy);
      expect(maxRelError(await dy.read(), want)).toBeLessThan(ELEMENTWISE_TOL);
      expect(() => activation(x, act, x)).toThrow(/pre-activation/);
      for (const t of [x, dy, y, dx]) t.release();
    });
  }
});

/** IEEE half bits → value (float64), for the cast test. */
function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

describe('castToF32', () => {
  it('f16 bits (normal, subnormal, ±0, ±inf) convert exactly', async () => {
    const { ctx } = gpu();
    const bits = [0x0000, 0x8000, 0x3c00, 0xbc00, 0x7bff, 0x0400, 0x7c00, 0xfc00, 0x3555, 0xc8f0, 0x0001];
    // Plus an odd count of seeded normal values, so the last word is half used.
    for (let i = 0; i < 22; i++) bits.push(((Math.floor(testData(1, 40 + i, 0, 1)[0] * 0x7800) + 0x0400) & 0x7fff) | (i % 2 ? 0x8000 : 0));
    const t = castToF32(ctx, [bits.length], Uint16Array.from(bits), 'f16');
    const got = Array.from(await t.read());
    const want = bits.map(halfToNumber);
    // Subnormal halves are normal f32 numbers; a driver that flushes them would give 0 here.
    expect(got).toEqual(want);
    t.release();
  });

  it('bf16 bits are the high half of the f32 bits', async () => {
    const { ctx } = gpu();
    const f = Float32Array.from(testData(7, 50, -100, 100));
    const words = new Uint32Array(f.buffer);
    const bits = Uint16Array.from(words, (w) => w >>> 16);
    const t = castToF32(ctx, [7], new Uint8Array(bits.buffer), 'bf16');
    const want = Array.from(bits, (b) => new Float32Array(Uint32Array.of(b << 16).buffer)[0]);
    expect(Array.from(await t.read())).toEqual(want);
    expect(() => castToF32(ctx, [8], bits, 'bf16')).toThrow(/14 bytes.*needs 16/);
    t.release();
  });
});
