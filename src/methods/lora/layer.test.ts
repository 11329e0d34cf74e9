import { describe, expect, it } from 'vitest';
import { f32Data, f32Tolerance, testData, useGpu } from '../../testing/gpu';
import { Tensor } from '../../engine/tensor';
import { mat, matmul64, maxRelError, transpose, type Mat } from '../../engine/reference/linalg';
import { loraContribution64, loraDeltaW64, loraGrads64, loraLoss64, loraRef, type LoraRef } from './reference';
import { STREAMS } from '../../engine/streams';
import {
  LORA_DEFAULTS,
  layerStream,
  loraBackward,
  loraForward,
  loraInit,
  loraInitAArray,
  loraMerge,
  loraScaling,
  type LoraWeights,
} from './layer';
import { matmul } from '../../engine/ops/matmul';

const gpu = useGpu();

function upload(m: Mat, label: string): Tensor {
  return Tensor.from(gpu().ctx, [m.rows, m.cols], Float32Array.from(m.data), label);
}

function lossOf(y: ArrayLike<number>, G: Mat): number {
  let L = 0;
  for (let i = 0; i < G.data.length; i++) L += G.data[i] * y[i];
  return L;
}

interface Case {
  N: number;
  I: number;
  O: number;
  r: number;
  rslora?: boolean;
}

describe('LoRA scaling and initialisation', () => {
  it('uses α/r, or α/√r for rsLoRA, with PEFT defaults r = 8, α = 8', () => {
    expect(LORA_DEFAULTS).toEqual({ r: 8, alpha: 8, rslora: false });
    expect(loraScaling({ r: 8, alpha: 16, rslora: false })).toBe(2);
    expect(loraScaling({ r: 16, alpha: 8, rslora: true })).toBe(2);
    expect(() => loraScaling({ r: 0, alpha: 8, rslora: false })).toThrow(/positive integer/);
  });

  it('keeps layer streams apart and leaves layer 0 on the bare kind id', () => {
    expect(layerStream(STREAMS.loraA, 0)).toBe(STREAMS.loraA);
    const all = new Set<number>();
    for (const kind of Object.values(STREAMS)) for (let l = 0; l < 200; l++) all.add(layerStream(kind, l));
    expect(all.size).toBe(Object.values(STREAMS).length * 200);
    expect(() => layerStream(STREAMS.loraA, -1)).toThrow(/layer index/);
  });

  it('draws A from U(−1/√I, 1/√I) per layer, identical to the CPU mirror, and B = 0', async () => {
    const { ctx } = gpu();
    const I = 197;
    const O = 65;
    const p0 = loraInit(ctx, { out: O, in: I }, 1234, 0);
    const p3 = loraInit(ctx, { out: O, in: I }, 1234, 3);
    const [a0, a3, b0] = await Promise.all([p0.A.read(), p3.A.read(), p0.B.read()]);
    const bound = 1 / Math.sqrt(I);
    const want0 = loraInitAArray(8, I, 1234, 0);
    // The GPU evaluates lo + (hi − lo)·u in f32: a few ulps of the bound at most.
    expect(maxRelError(a0, want0)).toBeLessThan(1e-6);
    expect(maxRelError(a3, loraInitAArray(8, I, 1234, 3))).toBeLessThan(1e-6);
    expect(Math.max(...a0.map(Math.abs))).toBeLessThanOrEqual(bound);
    // Uniform on ±bound has mean 0 and variance bound²/3; 1576 draws pin both to a few percent.
    const mean = want0.reduce((a, b) => a + b, 0) / want0.length;
    const variance = want0.reduce((a, b) => a + b * b, 0) / want0.length;
    expect(Math.abs(mean)).toBeLessThan(0.1 * bound);
    expect(variance / (bound * bound / 3)).toBeGreaterThan(0.9);
    expect(variance / (bound * bound / 3)).toBeLessThan(1.1);
    expect(maxRelError(a3, want0)).toBeGreaterThan(0.5);
    expect(b0.every((v) => v === 0)).toBe(true);
    expect(p0.scale).toBe(1);

    // ΔW = 0 at init: the merged weight is W bit for bit and the forward adds exactly nothing.
    const W = Tensor.from(ctx, [O, I], Float32Array.from(f32Data(O * I, 5)));
    const merged = loraMerge(W, p0);
    expect(Array.from(await merged.read())).toEqual(Array.from(await W.read()));
    const x = Tensor.from(ctx, [7, I], Float32Array.from(f32Data(7 * I, 6)));
    const y0 = f32Data(7 * O, 7);
    const y = Tensor.from(ctx, [7, O], Float32Array.from(y0));
    loraForward(x, p0, y);
    expect(Array.from(await y.read())).toEqual(Array.from(Float32Array.from(y0)));
    for (const t of [p0.A, p0.B, p3.A, p3.B, W, merged, x, y]) t.release();
  });
});

describe('LoRA kernels against the float64 reference', () => {
  const cases: Case[] = [
    { N: 7, I: 65, O: 197, r: 8 },
    { N: 197, I: 768, O: 65, r: 8 },
    { N: 65, I: 65, O: 65, r: 7, rslora: true },
    { N: 1, I: 7, O: 768, r: 1 },
  ];
  cases.forEach((c, ci) => {
    it(`N=${c.N} I=${c.I} O=${c.O} r=${c.r}${c.rslora ? ' rsLoRA' : ''}: merge, forward, backward`, async () => {
      const { ctx } = gpu();
      const seed = 300 + 20 * ci;
      const s = loraScaling({ r: c.r, alpha: 8, rslora: !!c.rslora });
      // B random, not zero: at init B = 0 would make dA and the input gradient vanish.
      const ref = loraRef(mat(c.r, c.I, f32Data(c.r * c.I, seed)), mat(c.O, c.r, f32Data(c.O * c.r, seed + 1)), s);
      const x = mat(c.N, c.I, f32Data(c.N * c.I, seed + 2));
      const G = mat(c.N, c.O, f32Data(c.N * c.O, seed + 3));
      const W = mat(c.O, c.I, f32Data(c.O * c.I, seed + 4));
      const y0 = mat(c.N, c.O, f32Data(c.N * c.O, seed + 5));
      const dx0 = mat(c.N, c.I, f32Data(c.N * c.I, seed + 6));
      const p: LoraWeights = { A: upload(ref.A, 'A'), B: upload(ref.B, 'B'), scale: s };
      const tW = upload(W, 'W');
      const tx = upload(x, 'x');
      const tG = upload(G, 'G');
      const ty = upload(y0, 'y');
      const tdx = upload(dx0, 'dx');

      const merged = loraMerge(tW, p);
      const h = loraForward(tx, p, ty, { save: true });
      const grads = loraBackward(tx, tG, p, { dx: tdx, h });
      const [gotMerged, gotY, gotDx, gotDA, gotDB] = await Promise.all(
        [merged, ty, tdx, grads.dA, grads.dB].map((t) => t.read()),
      );

      const dW = loraDeltaW64(ref);
      const want = loraGrads64(x, G, ref);
      const contrib = loraContribution64(x, ref);
      const addTo = (a: Mat, b: Mat) => a.data.map((v, i) => v + b.data[i]);
      // Each output is a contraction of f32 products; a chain of two contractions of lengths k1
      // and k2 accumulates rounding like one of length k1 + k2, hence the summed lengths.
      expect(maxRelError(gotMerged, addTo(W, dW))).toBeLessThan(f32Tolerance(c.r));
      expect(maxRelError(gotY, addTo(y0, contrib))).toBeLessThan(f32Tolerance(c.I + c.r));
      expect(maxRelError(gotDx, addTo(dx0, want.dx))).toBeLessThan(f32Tolerance(c.O + c.r));
      expect(maxRelError(gotDB, want.dB.data)).toBeLessThan(f32Tolerance(c.N + c.I));
      expect(maxRelError(gotDA, want.dA.data)).toBeLessThan(f32Tolerance(c.N + c.O));

      // The merged weight must give what the unmerged forward gives: x·W'ᵀ = x·Wᵀ + x·ΔWᵀ.
      const yMerged = matmul(tx, merged, { transB: true });
      const yBase = matmul(tx, tW, { transB: true });
      loraForward(tx, p, yBase);
      const [a, b] = await Promise.all([yMerged.read(), yBase.read()]);
      expect(maxRelError(a, Float64Array.from(b))).toBeLessThan(f32Tolerance(c.I + c.r));

      for (const t of [p.A, p.B, tW, tx, tG, ty, tdx, merged, h, grads.dA, grads.dB, yMerged, yBase]) t.release();
    });
  });

  it('folds leading batch dimensions of x and dY into the token count', async () => {
    const { ctx } = gpu();
    const [bt, T, I, O, r] = [2, 7, 9, 5, 3];
    const ref = loraRef(mat(r, I, f32Data(r * I, 1)), mat(O, r, f32Data(O * r, 2)), 0.5);
    const x = mat(bt * T, I, f32Data(bt * T * I, 3));
    const G = mat(bt * T, O, f32Data(bt * T * O, 4));
    const p: LoraWeights = { A: upload(ref.A, 'A'), B: upload(ref.B, 'B'), scale: 0.5 };
    const tx = Tensor.from(ctx, [bt, T, I], Float32Array.from(x.data));
    const tG = Tensor.from(ctx, [bt, T, O], Float32Array.from(G.data));
    const ty = Tensor.zeros(ctx, [bt, T, O]);
    loraForward(tx, p, ty);
    const g = loraBackward(tx, tG, p);
    const want = loraGrads64(x, G, ref);
    expect(maxRelError(await ty.read(), loraContribution64(x, ref).data)).toBeLessThan(f32Tolerance(I + r));
    expect(maxRelError(await g.dA.read(), want.dA.data)).toBeLessThan(f32Tolerance(bt * T + O));
    expect(maxRelError(await g.dB.read(), want.dB.data)).toBeLessThan(f32Tolerance(bt * T + I));
    for (const t of [p.A, p.B, tx, tG, ty, g.dA, g.dB]) t.release();
  });
});

describe('LoRA gradients by central finite differences', () => {
  it('float64: analytic gradients of A, B and x match central differences of the reference loss', () => {
    for (const [N, I, O, r] of [
      [5, 6, 4, 3],
      [4, 3, 7, 2],
    ]) {
      const ref: LoraRef = loraRef(mat(r, I, testData(r * I, 11)), mat(O, r, testData(O * r, 12)), 1.7);
      const x = mat(N, I, testData(N * I, 13));
      const G = mat(N, O, testData(N * O, 14));
      const g = loraGrads64(x, G, ref);
      // L is linear in each single coordinate, so a central difference has no truncation error
      // and the only error is float64 rounding: 1e-6 relative is far above it, far below a bug.
      const eps = 1e-3;
      const fd = (t: Mat, loss: () => number) =>
        t.data.map((v, i) => {
          t.data[i] = v + eps;
          const lp = loss();
          t.data[i] = v - eps;
          const lm = loss();
          t.data[i] = v;
          return (lp - lm) / (2 * eps);
        });
      const loss = () => loraLoss64(x, G, ref);
      expect(maxRelError(g.dA.data, fd(ref.A, loss))).toBeLessThan(1e-6);
      expect(maxRelError(g.dB.data, fd(ref.B, loss))).toBeLessThan(1e-6);
      expect(maxRelError(g.dx.data, fd(x, loss))).toBeLessThan(1e-6);
    }
  });

  it('GPU: central differences of the f32 forward agree with the GPU backward on sampled coordinates', async () => {
    const { ctx } = gpu();
    const [N, I, O, r] = [7, 65, 33, 4];
    const s = 2;
    const ref = loraRef(mat(r, I, f32Data(r * I, 21)), mat(O, r, f32Data(O * r, 22)), s);
    const x = mat(N, I, f32Data(N * I, 23));
    const G = mat(N, O, f32Data(N * O, 24));
    const p: LoraWeights = { A: upload(ref.A, 'A'), B: upload(ref.B, 'B'), scale: s };
    const tx = upload(x, 'x');
    const tG = upload(G, 'G');
    const g = loraBackward(tx, tG, p);
    const [gotDA, gotDB] = await Promise.all([g.dA.read(), g.dB.read()]);

    const gpuLoss = async () => {
      const y = Tensor.zeros(ctx, [N, O]);
      loraForward(tx, p, y);
      const L = lossOf(await y.read(), G);
      y.release();
      return L;
    };
    // y is linear in any one coordinate of A or B, so ε can be large (no truncation error) and the
    // difference is dominated by f32 rounding of y: each y is off by at most f32Tolerance(I + r)
    // of max|y|, so L by that times Σ|G|, and the quotient by twice that over 2ε.
    const eps = 0.5;
    const maxY = Math.max(...loraContribution64(x, ref).data.map(Math.abs));
    const sumG = G.data.reduce((a, v) => a + Math.abs(v), 0);
    const tol = (2 * f32Tolerance(I + r) * maxY * sumG) / (2 * eps);
    const probe = async (t: Tensor, host: Mat, i: number): Promise<number> => {
      const v = host.data[i];
      ctx.upload(t.buffer, Float32Array.of(v + eps), 4 * i);
      const lp = await gpuLoss();
      ctx.upload(t.buffer, Float32Array.of(v - eps), 4 * i);
      const lm = await gpuLoss();
      ctx.upload(t.buffer, Float32Array.of(v), 4 * i);
      return (lp - lm) / (2 * eps);
    };
    const want = loraGrads64(x, G, ref);
    for (const i of [0, 77, r * I - 1]) {
      const fd = await probe(p.A, ref.A, i);
      expect(Math.abs(fd - gotDA[i])).toBeLessThan(tol);
      expect(Math.abs(fd - want.dA.data[i])).toBeLessThan(tol);
    }
    for (const i of [0, 50, O * r - 1]) {
      const fd = await probe(p.B, ref.B, i);
      expect(Math.abs(fd - gotDB[i])).toBeLessThan(tol);
      expect(Math.abs(fd - want.dB.data[i])).toBeLessThan(tol);
    }
    // The bound must be well under the gradients it checks, or the check would prove nothing.
    expect(tol).toBeLessThan(0.01 * Math.max(...want.dA.data.map(Math.abs)));
    for (const t of [p.A, p.B, tx, tG, g.dA, g.dB]) t.release();
  });
});

// Keep the reference honest about its own route: forward through h equals forward through ΔW.
describe('LoRA reference self-consistency', () => {
  it('x·ΔWᵀ equals s·(x·Aᵀ)·Bᵀ', () => {
    const ref = loraRef(mat(3, 5, testData(15, 31)), mat(4, 3, testData(12, 32)), 0.7);
    const x = mat(2, 5, testData(10, 33));
    const viaH = matmul64(matmul64(x, transpose(ref.A)), transpose(ref.B)).data.map((v) => 0.7 * v);
    expect(maxRelError(loraContribution64(x, ref).data, viaH)).toBeLessThan(1e-12);
  });
});
