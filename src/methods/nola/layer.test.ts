import { describe, expect, it } from 'vitest';
import { f32Tolerance, testData, useGpu } from '../../testing/gpu';
import { randU32 } from '../../engine/random';
import { STREAMS } from '../../engine/streams';
import { Tensor } from '../../engine/tensor';
import { matmul } from '../../engine/ops/matmul';
import {
  NOLA_DEFAULTS,
  nolaBackward,
  nolaBases,
  nolaBasesArray,
  nolaBasisSpecs,
  nolaBasisDistributions,
  nolaFactors,
  nolaForward,
  nolaInitCoefficients,
  nolaMerge,
  nolaMix,
  nolaParameterCount,
  nolaProject,
  nolaScale,
  releaseNolaBases,
  releaseNolaFactors,
  type NolaLayer,
} from './layer';
import { nolaDeltaW64, nolaFactors64, nolaForward64, nolaGrads64, nolaLoss64, nolaMix64, type NolaProblem64 } from './reference';
import { mat, matmul64, maxRelError, transpose } from '../../engine/reference/linalg';

const gpu = useGpu();

/** Rounds to f32 so GPU and reference start from identical inputs. */
const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));

function layerOf(c: { I: number; O: number; rank: number; ka: number; kb: number; c?: number }, seed: number): NolaLayer {
  return { ...NOLA_DEFAULTS, c: c.c ?? NOLA_DEFAULTS.c, I: c.I, O: c.O, rank: c.rank, ka: c.ka, kb: c.kb, seed };
}

function problem(layer: NolaLayer, alpha: ArrayLike<number>, beta: ArrayLike<number>): NolaProblem64 {
  const bases = nolaBasisSpecs(layer);
  return {
    I: layer.I,
    O: layer.O,
    rank: layer.rank,
    scale: nolaScale(layer),
    basesA: nolaBasesArray(bases.a),
    basesB: nolaBasesArray(bases.b),
    alpha,
    beta,
  };
}

describe('NOLA bases and initialisation', () => {
  it('reproduces the known answers printed in docs/nola-format.md', () => {
    // The format note promises these values to anyone rebuilding bases outside Rankscope.
    expect(randU32(0, 0, 0)).toBe(2236709435);
    expect(randU32(4294967295, STREAMS.nolaA, 12345)).toBe(4113120642);
    const specs = nolaBasisSpecs(layerOf({ I: 7, O: 5, rank: 2, ka: 3, kb: 4 }, 123456789));
    expect(Array.from(nolaBasesArray(specs.a).subarray(0, 3))).toEqual([-0.22818527444178713, -0.08100245117876048, 0.08505985693890439]);
    expect(Array.from(nolaBasesArray(specs.b).subarray(0, 3))).toEqual([0.22317770455015645, -0.2618665059244265, 0.3084137215113569]);
  });

  it('materialised bases equal the CPU mirror and NOLA\'s kaiming_uniform(a=√5) bounds', async () => {
    const { ctx } = gpu();
    const layer = layerOf({ I: 65, O: 7, rank: 3, ka: 16, kb: 33 }, 77);
    const bases = nolaBases(ctx, layer);
    const dist = nolaBasisDistributions(65, 7, 3);
    expect(dist.a.hi).toBeCloseTo(1 / Math.sqrt(65 * 3), 15);
    expect(dist.b.hi).toBeCloseTo(1 / Math.sqrt(3 * 7), 15);
    for (const [basis, bound] of [[bases.a, dist.a.hi], [bases.b, dist.b.hi]] as const) {
      expect(basis.tensor!.shape).toEqual([basis.k, basis.E]);
      const got = await basis.tensor!.read();
      const want = nolaBasesArray(basis);
      // The GPU computes lo + (hi − lo)·u in f32 from an f32-exact u: at most a couple of roundings.
      expect(maxRelError(got, want)).toBeLessThan(4 * 2 ** -24);
      let max = 0;
      for (const v of want) max = Math.max(max, Math.abs(v));
      expect(max).toBeLessThanOrEqual(bound);
      expect(max).toBeGreaterThan(0.9 * bound);
    }
    // A and B use different streams, so they never repeat each other's draws.
    expect(nolaBasesArray(bases.a).slice(0, 8)).not.toEqual(nolaBasesArray({ ...bases.b, dist: bases.a.dist }).slice(0, 8));
    releaseNolaBases(bases);
  });

  it('starts from NOLA\'s α = 1/ka, β = 1/kb (small, non-zero ΔW), or from ΔW = 0 with zero-beta', async () => {
    const { ctx } = gpu();
    expect(nolaParameterCount(NOLA_DEFAULTS)).toBe(2048);
    for (const init of ['nola', 'zero-beta'] as const) {
      const layer: NolaLayer = { ...layerOf({ I: 7, O: 65, rank: 2, ka: 33, kb: 16 }, 5), init };
      const bases = nolaBases(ctx, layer);
      const { alpha, beta } = nolaInitCoefficients(ctx, layer);
      const a = await alpha.read();
      const b = await beta.read();
      expect(a.every((v) => v === Math.fround(1 / 33))).toBe(true);
      expect(b.every((v) => v === (init === 'nola' ? Math.fround(1 / 16) : 0))).toBe(true);
      const Wdata = f32(testData(65 * 7, 11));
      const W = Tensor.from(ctx, [65, 7], Float32Array.from(Wdata));
      const f = nolaFactors(layer, bases, alpha, beta);
      const merged = await nolaMerge(layer, f, W).read();
      const x = Tensor.from(ctx, [7, 7], Float32Array.from(testData(49, 12)));
      const y0 = f32(testData(7 * 65, 13));
      const y = Tensor.from(ctx, [7, 65], Float32Array.from(y0));
      nolaForward(layer, f, x, y);
      const yGot = await y.read();
      const dW = nolaDeltaW64(problem(layer, a, b));
      if (init === 'zero-beta') {
        // s·0 + 1·C is exact in f32, so the merged weight and the activations are untouched bit for bit.
        expect(Array.from(merged)).toEqual(Array.from(Wdata));
        expect(Array.from(yGot)).toEqual(Array.from(y0));
        expect(dW.data.every((v) => v === 0)).toBe(true);
      } else {
        const maxDW = dW.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(maxDW).toBeGreaterThan(0);
        const diff = merged.map((v, i) => v - Wdata[i]);
        // The difference of two O(1) f32 numbers carries ~1e-7 absolute error, large against a ΔW this small.
        expect(maxRelError(diff, dW.data)).toBeLessThan((2 * 2 ** -24) / maxDW + f32Tolerance(33 + 16));
      }
      for (const t of [alpha, beta, W, x, y]) t.release();
      releaseNolaFactors(f);
      releaseNolaBases(bases);
    }
  });
});

interface Case {
  I: number;
  O: number;
  N: number;
  rank: number;
  ka: number;
  kb: number;
  c?: number;
  /** false: kernels generate the bases on the fly. */
  materialise: boolean;
  /** Leading batch dimension for x, dY, y and dx (N must be a multiple). */
  batch?: number;
}

describe('NOLA kernels against the float64 reference', () => {
  const cases: Case[] = [
    { I: 65, O: 197, N: 7, rank: 1, ka: 16, kb: 33, materialise: true }, // I < O
    { I: 197, O: 65, N: 65, rank: 4, ka: 33, kb: 16, c: 2.5, materialise: true }, // I > O
    { I: 65, O: 65, N: 21, rank: 7, ka: 16, kb: 16, materialise: false, batch: 3 }, // I = O, generated, 3-D activations
    { I: 768, O: 197, N: 65, rank: 2, ka: 33, kb: 7, materialise: false }, // wide input, generated
    { I: 197, O: 768, N: 7, rank: 1, ka: 7, kb: 33, materialise: true }, // wide output
    { I: 65, O: 7, N: 7, rank: 1, ka: 1024, kb: 1024, materialise: true }, // the paper's k = 1024
    { I: 1, O: 7, N: 1, rank: 1, ka: 1, kb: 1024, materialise: false }, // degenerate sizes
  ];

  cases.forEach((c, ci) => {
    const name = `I=${c.I} O=${c.O} N=${c.N} rank=${c.rank} ka=${c.ka} kb=${c.kb}${c.materialise ? '' : ' (generated bases)'}`;
    it(name, async () => {
      const { ctx } = gpu();
      const seed = 1000 + 17 * ci;
      const layer = layerOf(c, seed);
      const s = nolaScale(layer);
      // Coefficients away from their init so every gradient and product is generic.
      const alpha64 = f32(testData(c.ka, seed + 1));
      const beta64 = f32(testData(c.kb, seed + 2));
      const x64 = f32(testData(c.N * c.I, seed + 3));
      const G64 = f32(testData(c.N * c.O, seed + 4));
      const W64 = f32(testData(c.O * c.I, seed + 5));
      const y064 = f32(testData(c.N * c.O, seed + 6));
      const dx064 = f32(testData(c.N * c.I, seed + 7));
      const lead = c.batch ? [c.batch, c.N / c.batch] : [c.N];

      const bases = nolaBases(ctx, layer, c.materialise);
      const alpha = Tensor.from(ctx, [c.ka], Float32Array.from(alpha64));
      const beta = Tensor.from(ctx, [c.kb], Float32Array.from(beta64));
      const x = Tensor.from(ctx, [...lead, c.I], Float32Array.from(x64));
      const dY = Tensor.from(ctx, [...lead, c.O], Float32Array.from(G64));
      const W = Tensor.from(ctx, [c.O, c.I], Float32Array.from(W64));
      const y = Tensor.from(ctx, [...lead, c.O], Float32Array.from(y064));
      const dx = Tensor.from(ctx, [...lead, c.I], Float32Array.from(dx064));

      const f = nolaFactors(layer, bases, alpha, beta);
      const xA = nolaForward(layer, f, x, y, true);
      const grads = nolaBackward(layer, bases, f, x, dY, { dx, xA });
      const merged = nolaMerge(layer, f, W);
      const [gotA, gotB, gotY, gotDx, gotDAlpha, gotDBeta, gotMerged] = await Promise.all(
        [f.A, f.B, y, dx, grads.dAlpha, grads.dBeta, merged].map((t) => t.read()),
      );

      const p = problem(layer, alpha64, beta64);
      const X = mat(c.N, c.I, x64);
      const G = mat(c.N, c.O, G64);
      const ref = nolaFactors64(p);
      const yRef = nolaForward64(p, X);
      const gRef = nolaGrads64(p, X, G);
      const dW = nolaDeltaW64(p);

      // Error budgets: each f32 contraction of length k adds up to f32Tolerance(k) relative error,
      // and an output inherits the budgets of every contraction on its path. The reference uses the
      // CPU mirror of the bases, within 2 roundings of the GPU's f32 values, which f32Tolerance covers.
      const tA = f32Tolerance(c.ka);
      const tB = f32Tolerance(c.kb);
      const tY = tA + tB + f32Tolerance(c.I) + f32Tolerance(c.rank);
      expect(maxRelError(gotA, ref.A.data)).toBeLessThan(tA);
      expect(maxRelError(gotB, ref.B.data)).toBeLessThan(tB);
      const yWant = yRef.data.map((v, i) => v + y064[i]);
      expect(maxRelError(gotY, yWant)).toBeLessThan(tY);
      // dα: g = dY·Bᵀ (O), dA = s·xᵀ·g (N), ⟨A_i, dA⟩ (I·rank).
      const tDA = tB + f32Tolerance(c.O) + f32Tolerance(c.N) + f32Tolerance(c.I * c.rank);
      expect(maxRelError(gotDAlpha, gRef.dAlpha)).toBeLessThan(tDA);
      // dβ: x·A (I), dB = s·(xA)ᵀ·dY (N), ⟨B_j, dB⟩ (rank·O).
      const tDB = tA + f32Tolerance(c.I) + f32Tolerance(c.N) + f32Tolerance(c.rank * c.O);
      expect(maxRelError(gotDBeta, gRef.dBeta)).toBeLessThan(tDB);
      const dxWant = gRef.dx.data.map((v, i) => v + dx064[i]);
      expect(maxRelError(gotDx, dxWant)).toBeLessThan(tA + tB + f32Tolerance(c.O) + f32Tolerance(c.rank));
      const mergedWant = dW.data.map((v, i) => v + W64[i]);
      expect(maxRelError(gotMerged, mergedWant)).toBeLessThan(tA + tB + f32Tolerance(c.rank));

      // The merged weight and the unmerged path agree: x·(W + ΔW)ᵀ = x·Wᵀ + contribution.
      const yMerged = await matmul(x.reshape([c.N, c.I]), merged, { transB: true }).read();
      const yBase = matmul(x.reshape([c.N, c.I]), W, { transB: true });
      nolaForward(layer, f, x, yBase.reshape([...lead, c.O]));
      const ySplit = await yBase.read();
      const want = matmul64(X, transpose(mat(c.O, c.I, mergedWant)));
      expect(maxRelError(yMerged, ySplit)).toBeLessThan(2 * (tY + f32Tolerance(c.I)));
      expect(maxRelError(yMerged, want.data)).toBeLessThan(tY + f32Tolerance(c.I));

      for (const t of [alpha, beta, x, dY, W, y, dx, xA!, grads.dAlpha, grads.dBeta, merged, yBase]) t.release();
      releaseNolaFactors(f);
      releaseNolaBases(bases);
    });
  });

  it('generated and materialised bases give the same mixtures and projections', async () => {
    const { ctx } = gpu();
    const layer = layerOf({ I: 197, O: 65, rank: 3, ka: 65, kb: 7 }, 4242);
    const dense = nolaBases(ctx, layer, true);
    const gen = nolaBases(ctx, layer, false);
    const coef = Tensor.from(ctx, [65], Float32Array.from(testData(65, 1)));
    const v = Tensor.from(ctx, [197 * 3], Float32Array.from(testData(197 * 3, 2)));
    const outs = [nolaMix(dense.a, coef), nolaMix(gen.a, coef), nolaProject(dense.a, v), nolaProject(gen.a, v)];
    const [mixD, mixG, projD, projG] = await Promise.all(outs.map((t) => t.read()));
    // Same expression on the same f32 inputs; only the compiler's freedom to fuse a multiply-add
    // may move an element by an ulp, so allow a few ulps of the sum.
    expect(maxRelError(mixG, mixD)).toBeLessThan(1e-6);
    expect(maxRelError(projG, projD)).toBeLessThan(1e-6);
    const want = nolaMix64(nolaBasesArray(dense.a), f32(testData(65, 1)), 197 * 3);
    expect(maxRelError(mixD, want)).toBeLessThan(f32Tolerance(65));
    for (const t of [coef, v, ...outs]) t.release();
    releaseNolaBases(dense);
  });
});

describe('NOLA gradients by central differences', () => {
  // L = Σ G ⊙ (x·ΔWᵀ) is linear in each of α, β and x separately (bilinear in (α, β)), so a central
  // difference has no truncation error at any step: what is left is float64 rounding, ~1e-16·|L|/h.
  const refCases = [
    { I: 7, O: 65, N: 7, rank: 2, ka: 16, kb: 33, c: 1.5 },
    { I: 65, O: 7, N: 1, rank: 3, ka: 33, kb: 16, c: 1 },
  ];
  refCases.forEach((c, ci) => {
    it(`float64 reference, every coordinate: I=${c.I} O=${c.O} rank=${c.rank}`, () => {
      const seed = 3000 + ci;
      const layer = layerOf(c, seed);
      const alpha = Array.from(testData(c.ka, seed + 1));
      const beta = Array.from(testData(c.kb, seed + 2));
      const x = mat(c.N, c.I, testData(c.N * c.I, seed + 3));
      const G = mat(c.N, c.O, testData(c.N * c.O, seed + 4));
      const base = problem(layer, alpha, beta);
      const grads = nolaGrads64(base, x, G);
      const h = 1e-3;
      const central = (loss: (d: number) => number) => (loss(h) - loss(-h)) / (2 * h);
      const fdAlpha = alpha.map((_, i) =>
        central((d) => nolaLoss64({ ...base, alpha: alpha.map((v, j) => (j === i ? v + d : v)) }, x, G)),
      );
      const fdBeta = beta.map((_, i) =>
        central((d) => nolaLoss64({ ...base, beta: beta.map((v, j) => (j === i ? v + d : v)) }, x, G)),
      );
      const fdX = Array.from(x.data, (_, i) =>
        central((d) => {
          const xp = mat(c.N, c.I, x.data);
          xp.data[i] += d;
          return nolaLoss64(base, xp, G);
        }),
      );
      expect(maxRelError(fdAlpha, grads.dAlpha)).toBeLessThan(1e-6);
      expect(maxRelError(fdBeta, grads.dBeta)).toBeLessThan(1e-6);
      expect(maxRelError(fdX, grads.dx.data)).toBeLessThan(1e-6);
    });
  });

  it('GPU forward in f32, spot coordinates of α and β', async () => {
    const { ctx } = gpu();
    const c = { I: 65, O: 197, N: 7, rank: 2, ka: 16, kb: 33 };
    const seed = 4000;
    const layer = layerOf(c, seed);
    const bases = nolaBases(ctx, layer);
    const alpha64 = f32(testData(c.ka, seed + 1));
    const beta64 = f32(testData(c.kb, seed + 2));
    const G64 = f32(testData(c.N * c.O, seed + 4));
    const x = Tensor.from(ctx, [c.N, c.I], Float32Array.from(testData(c.N * c.I, seed + 3)));
    const dY = Tensor.from(ctx, [c.N, c.O], Float32Array.from(G64));

    const gpuLoss = async (a: ArrayLike<number>, b: ArrayLike<number>) => {
      const at = Tensor.from(ctx, [c.ka], Float32Array.from(a));
      const bt = Tensor.from(ctx, [c.kb], Float32Array.from(b));
      const f = nolaFactors(layer, bases, at, bt);
      const y = Tensor.zeros(ctx, [c.N, c.O]);
      nolaForward(layer, f, x, y);
      const yv = await y.read();
      for (const t of [at, bt, y]) t.release();
      releaseNolaFactors(f);
      let L = 0;
      let yMax = 0;
      for (let i = 0; i < yv.length; i++) {
        L += G64[i] * yv[i];
        yMax = Math.max(yMax, Math.abs(yv[i]));
      }
      return { L, yMax };
    };

    const at = Tensor.from(ctx, [c.ka], Float32Array.from(alpha64));
    const bt = Tensor.from(ctx, [c.kb], Float32Array.from(beta64));
    const f = nolaFactors(layer, bases, at, bt);
    const grads = nolaBackward(layer, bases, f, x, dY);
    const dAlpha = await grads.dAlpha.read();
    const dBeta = await grads.dBeta.read();
    const { yMax } = await gpuLoss(alpha64, beta64);

    // Linearity in each coefficient makes any step exact in real arithmetic, so take a large one:
    // each GPU loss then carries at most tY·max|y|·Σ|G| of f32 error (the forward's budget above),
    // and the difference quotient at most that divided by eps. The analytic side carries its own
    // budget relative to the largest gradient. An indexing or scaling bug is off by O(1).
    const eps = 0.5;
    const sumG = G64.reduce((s, v) => s + Math.abs(v), 0);
    const tY = f32Tolerance(c.ka) + f32Tolerance(c.kb) + f32Tolerance(c.I) + f32Tolerance(c.rank);
    const fdBudget = (tY * yMax * sumG) / eps;
    const check = async (which: 'alpha' | 'beta', i: number, analytic: Float32Array) => {
      const bump = (d: number) => {
        const a = Array.from(alpha64);
        const b = Array.from(beta64);
        (which === 'alpha' ? a : b)[i] += d;
        return gpuLoss(a, b);
      };
      const fd = ((await bump(eps)).L - (await bump(-eps)).L) / (2 * eps);
      const gMax = analytic.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const budget = fdBudget + f32Tolerance(c.I * c.rank + c.O + c.N + c.kb) * gMax;
      expect(Math.abs(fd - analytic[i]), `${which}[${i}]: fd ${fd} vs ${analytic[i]}`).toBeLessThan(budget);
      // Keep the check meaningful: the budget must be far below the gradients it checks.
      expect(budget).toBeLessThan(0.02 * gMax);
    };
    for (const i of [0, 7, c.ka - 1]) await check('alpha', i, dAlpha);
    for (const i of [0, 16, c.kb - 1]) await check('beta', i, dBeta);

    for (const t of [x, dY, at, bt, grads.dAlpha, grads.dBeta]) t.release();
    releaseNolaFactors(f);
    releaseNolaBases(bases);
  });
});
