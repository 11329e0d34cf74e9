import { describe, expect, it } from 'vitest';
import { randomArray } from '../../engine/random';
import {
  add,
  addRow,
  concatRows,
  crossEntropy,
  gelu,
  layerNorm,
  matmul,
  meanRows,
  mul,
  permute,
  quickGelu,
  reshape,
  scale,
  selectRow,
  selectRows,
  sliceCols,
  softmax,
  sum,
  Tape,
  type Value,
} from './autograd64';

const normal = (n: number, stream: number, std = 1) => randomArray(n, 77, stream, { kind: 'normal', std });
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * Checks every input gradient of f(inputs) = Σ out ⊙ R (R fixed random) against central finite
 * differences in float64. Returns the worst error relative to the largest gradient entry.
 */
function gradCheck(shapes: number[][], build: (xs: Value[]) => Value, opts: { h?: number; std?: number } = {}): number {
  const h = opts.h ?? 1e-5;
  const data = shapes.map((s, i) => normal(size(s), 100 + i, opts.std ?? 1));
  const run = (ds: Float64Array[], withGrad: boolean) => {
    const tape = new Tape();
    const xs = ds.map((d, i) => tape.param(d.slice(), shapes[i]));
    const out = build(xs);
    const r = normal(out.size, 999);
    const weights = tape.constant(r, out.shape);
    const f = sum(mul(out, weights));
    if (withGrad) tape.backward(f);
    return { f: f.data[0], grads: xs.map((x) => x.grad ?? new Float64Array(x.size)) };
  };
  const { grads } = run(data, true);
  let worst = 0;
  for (let i = 0; i < data.length; i++) {
    let scaleMax = 1e-12;
    for (const g of grads[i]) scaleMax = Math.max(scaleMax, Math.abs(g));
    for (let j = 0; j < data[i].length; j++) {
      const plus = data.map((d) => d.slice());
      const minus = data.map((d) => d.slice());
      plus[i][j] += h;
      minus[i][j] -= h;
      const fd = (run(plus, false).f - run(minus, false).f) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - grads[i][j]) / scaleMax);
    }
  }
  return worst;
}

const TOL = 1e-7;

describe('autograd64 gradients match central finite differences', () => {
  it('matmul with every transpose combination, 2-D and batched', () => {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const a = transA ? [4, 3] : [3, 4];
        const b = transB ? [5, 4] : [4, 5];
        expect(gradCheck([a, b], ([x, y]) => matmul(x, y, { transA, transB }))).toBeLessThan(TOL);
        expect(gradCheck([[2, ...a], [2, ...b]], ([x, y]) => matmul(x, y, { transA, transB }))).toBeLessThan(TOL);
        // A 2-D right operand shared by every batch entry.
        expect(gradCheck([[2, ...a], b], ([x, y]) => matmul(x, y, { transA, transB }))).toBeLessThan(TOL);
      }
    }
  });

  it('matmul values', () => {
    const t = new Tape();
    const a = t.constant(Float64Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
    const b = t.constant(Float64Array.of(1, 0, 0, 1, 1, 1), [3, 2]);
    expect([...matmul(a, b).data]).toEqual([4, 5, 10, 11]);
    expect([...matmul(a, a, { transB: true }).data]).toEqual([14, 32, 32, 77]);
    expect([...matmul(a, a, { transA: true }).data]).toEqual([17, 22, 27, 22, 29, 36, 27, 36, 45]);
  });

  it('add, addRow, mul, scale', () => {
    expect(gradCheck([[3, 4], [3, 4]], ([x, y]) => add(x, y))).toBeLessThan(TOL);
    expect(gradCheck([[2, 3, 4], [4]], ([x, y]) => addRow(x, y))).toBeLessThan(TOL);
    expect(gradCheck([[3, 4], [3, 4]], ([x, y]) => mul(x, y))).toBeLessThan(TOL);
    expect(gradCheck([[3, 4]], ([x]) => scale(x, -0.37))).toBeLessThan(TOL);
    // The same value used twice accumulates both contributions.
    expect(gradCheck([[3, 4]], ([x]) => mul(x, x))).toBeLessThan(TOL);
  });

  it('gelu (exact) and quick_gelu', () => {
    expect(gradCheck([[5, 7]], ([x]) => gelu(x), { std: 2 })).toBeLessThan(TOL);
    expect(gradCheck([[5, 7]], ([x]) => quickGelu(x), { std: 2 })).toBeLessThan(TOL);
    const t = new Tape();
    const x = t.constant(Float64Array.of(-1, 0, 1, 2), [4]);
    // torch.nn.functional.gelu(torch.tensor([-1., 0., 1., 2.], dtype=torch.float64))
    const want = [-0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416];
    gelu(x).data.forEach((v, i) => expect(v).toBeCloseTo(want[i], 14));
    const q = quickGelu(x).data;
    expect(q[2]).toBeCloseTo(1 / (1 + Math.exp(-1.702)), 15);
  });

  it('layerNorm over the last dimension, with weight and bias', () => {
    expect(gradCheck([[3, 6], [6], [6]], ([x, w, b]) => layerNorm(x, w, b, 1e-5))).toBeLessThan(TOL);
    expect(gradCheck([[2, 2, 5], [5], [5]], ([x, w, b]) => layerNorm(x, w, b, 1e-12))).toBeLessThan(TOL);
    const t = new Tape();
    const x = t.constant(Float64Array.of(1, 2, 3, 4), [1, 4]);
    const y = layerNorm(x, t.constant(new Float64Array(4).fill(1), [4]), t.constant(new Float64Array(4), [4]), 0).data;
    const sd = Math.sqrt(1.25);
    expect([...y].map((v) => +v.toFixed(12))).toEqual([-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd].map((v) => +v.toFixed(12)));
  });

  it('softmax over the last dimension', () => {
    expect(gradCheck([[3, 5]], ([x]) => softmax(x), { std: 2 })).toBeLessThan(TOL);
    expect(gradCheck([[2, 3, 4]], ([x]) => softmax(x))).toBeLessThan(TOL);
    const t = new Tape();
    const p = softmax(t.constant(Float64Array.of(1000, 1000, -Infinity), [1, 3])).data;
    expect([...p]).toEqual([0.5, 0.5, 0]);
  });

  it('reshape, permute, selectRows, selectRow, sliceCols, concatRows, meanRows', () => {
    expect(gradCheck([[2, 6]], ([x]) => reshape(x, [3, 4]))).toBeLessThan(TOL);
    expect(gradCheck([[2, 3, 4, 5]], ([x]) => permute(x, [0, 2, 1, 3]))).toBeLessThan(TOL);
    expect(gradCheck([[4, 3]], ([x]) => selectRows(x, [3, 0, 0, 2, 3]))).toBeLessThan(TOL);
    expect(gradCheck([[4, 3]], ([x]) => selectRow(x, 2))).toBeLessThan(TOL);
    expect(gradCheck([[4, 6]], ([x]) => sliceCols(x, 1, 4))).toBeLessThan(TOL);
    expect(gradCheck([[1, 3], [2, 3], [4, 3]], ([a, b, c]) => concatRows([a, b, c]))).toBeLessThan(TOL);
    expect(gradCheck([[2, 3, 4]], ([x]) => meanRows(x))).toBeLessThan(TOL);
    expect(gradCheck([[5, 4]], ([x]) => meanRows(x))).toBeLessThan(TOL);

    const t = new Tape();
    const x = t.constant(Float64Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
    const p = permute(x, [2, 0, 1]);
    expect(p.shape).toEqual([4, 2, 3]);
    // p[k, i, j] = x[i, j, k]
    expect(p.data[1 * 6 + 1 * 3 + 2]).toBe(1 * 12 + 2 * 4 + 1);
    expect([...meanRows(x).data.slice(0, 4)]).toEqual([4, 5, 6, 7]);
    expect([...sliceCols(x, 1, 3).data.slice(0, 4)]).toEqual([1, 2, 5, 6]);
  });

  it('cross-entropy with and without label smoothing, as torch.nn.CrossEntropyLoss', () => {
    const labels = [2, 0, 1];
    for (const eps of [0, 0.1, 0.35]) {
      expect(gradCheck([[3, 4]], ([x]) => crossEntropy(x, labels, eps), { std: 2 })).toBeLessThan(TOL);
    }
    // torch.nn.CrossEntropyLoss(label_smoothing=0.1)(tensor([[1., 2., 3.], [1., 0., -1.]], dtype=float64), tensor([2, 1]))
    // = mean over rows of (1-ε)·nll + ε·mean_c(−log p_c).
    const t = new Tape();
    const logits = t.constant(Float64Array.of(1, 2, 3, 1, 0, -1), [2, 3]);
    const lse = (r: number[]) => Math.log(r.reduce((a, v) => a + Math.exp(v), 0));
    const r0 = [1, 2, 3];
    const r1 = [1, 0, -1];
    const row = (r: number[], y: number, e: number) => (1 - e) * (lse(r) - r[y]) + (e * r.reduce((a, v) => a + (lse(r) - v), 0)) / r.length;
    expect(crossEntropy(logits, [2, 1], 0.1).data[0]).toBeCloseTo((row(r0, 2, 0.1) + row(r1, 1, 0.1)) / 2, 14);
    expect(crossEntropy(logits, [2, 1]).data[0]).toBeCloseTo((lse(r0) - 3 + lse(r1) - 0) / 2, 14);
    expect(() => crossEntropy(logits, [3, 0])).toThrow(/label 3/);
  });

  it('composite graph: attention-like block', () => {
    expect(
      gradCheck([[4, 6], [6, 6], [6]], ([x, w, b]) => {
        const q = addRow(matmul(x, w, { transB: true }), b);
        const p = softmax(scale(matmul(q, x, { transB: true }), 0.4));
        return gelu(matmul(p, q));
      }),
    ).toBeLessThan(TOL);
  });

  it('values that need no gradient are not given one', () => {
    const t = new Tape();
    const a = t.param(normal(6, 1), [2, 3]);
    const c = t.constant(normal(6, 2), [2, 3]);
    const y = sum(mul(a, c));
    t.backward(y);
    expect(a.grad).toBeDefined();
    expect(c.grad).toBeUndefined();
    expect([...a.grad!]).toEqual([...c.data]);
  });
});
