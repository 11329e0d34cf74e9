import { describe, expect, it } from 'vitest';
import { f32Data, f32Tolerance, testData, useGpu } from '../../testing/gpu';
import { Tensor } from '../../engine/tensor';
import { mat, maxRelError, type Mat } from '../../engine/reference/linalg';
import { veraContribution64, veraDeltaW64, veraGrads64, veraLoss64, type VeraRef } from './reference';
import {
  VERA_DEFAULTS,
  veraBackward,
  veraPath,
  type VeraStrategy,
  veraBaseDistributions,
  veraBases,
  veraBasesArrays,
  veraForward,
  veraForwardSaved,
  veraInitLayer,
  veraMerge,
  veraForwardMerged,
  veraSharedShape,
  veraStepCost,
  type LayerShape,
  type VeraBases,
  type VeraLayerParams,
} from './layer';
import { matmul } from '../../engine/ops/matmul';

const gpu = useGpu();

function upload(m: Mat, label: string): Tensor {
  return Tensor.from(gpu().ctx, [m.rows, m.cols], Float32Array.from(m.data), label);
}

function vec(data: Float64Array, label: string): Tensor {
  return Tensor.from(gpu().ctx, [data.length], Float32Array.from(data), label);
}

const addTo = (a: Mat, b: Mat) => a.data.map((v, i) => v + b.data[i]);

/** Bases made on the GPU and read back, so the reference uses the very values the kernels read. */
async function makeBases(r: number, shared: LayerShape, seed: number): Promise<{ bases: VeraBases; A: Mat; B: Mat }> {
  const bases = veraBases(gpu().ctx, r, shared, seed);
  const [a, b] = await Promise.all([bases.A.read(), bases.B.read()]);
  return { bases, A: mat(r, shared.in, a), B: mat(shared.out, r, b) };
}

describe('VeRA shared shapes, bases and initialisation', () => {
  it('sizes the shared bases as the elementwise max of the targets (PEFT _find_dim)', () => {
    // ViT-B/16: qkv and out projections 768×768, MLP fc1 (3072, 768) and fc2 (768, 3072).
    expect(
      veraSharedShape([
        { out: 768, in: 768 },
        { out: 3072, in: 768 },
        { out: 768, in: 3072 },
      ]),
    ).toEqual({ out: 3072, in: 3072 });
    // The max is taken per dimension, not of whole shapes: (30, 5) and (10, 20) give (30, 20).
    expect(
      veraSharedShape([
        { out: 30, in: 5 },
        { out: 10, in: 20 },
      ]),
    ).toEqual({ out: 30, in: 20 });
    expect(veraSharedShape([{ out: 7, in: 65 }])).toEqual({ out: 7, in: 65 });
    expect(() => veraSharedShape([])).toThrow(/no target layers/);
    expect(() => veraSharedShape([{ out: 0, in: 5 }])).toThrow(/positive integers/);
  });

  it('has PEFT defaults r = 256, d_initial = 0.1 and kaiming-uniform bounds √(6/I_max), √(6/r)', () => {
    expect(VERA_DEFAULTS).toEqual({ r: 256, dInitial: 0.1 });
    const d = veraBaseDistributions(256, { out: 3072, in: 768 });
    expect(d.A).toEqual({ kind: 'uniform', lo: -Math.sqrt(6 / 768), hi: Math.sqrt(6 / 768) });
    expect(d.B).toEqual({ kind: 'uniform', lo: -Math.sqrt(6 / 256), hi: Math.sqrt(6 / 256) });
  });

  it('makes the bases on the GPU identical to the CPU mirror, and ΔW = 0 at init', async () => {
    const { ctx } = gpu();
    const r = 16;
    const shared = { out: 197, in: 65 };
    const { bases, A, B } = await makeBases(r, shared, 99);
    const want = veraBasesArrays(r, shared, 99);
    // The GPU evaluates lo + (hi − lo)·u in f32: a few ulps of the bound at most.
    expect(maxRelError(A.data, want.A)).toBeLessThan(1e-6);
    expect(maxRelError(B.data, want.B)).toBeLessThan(1e-6);
    const boundA = Math.sqrt(6 / shared.in);
    const boundB = Math.sqrt(6 / r);
    expect(Math.max(...A.data.map(Math.abs))).toBeLessThanOrEqual(boundA);
    expect(Math.max(...B.data.map(Math.abs))).toBeLessThanOrEqual(boundB);
    // Uniform on ±b has variance b²/3; with 1040 and 3152 draws the sample variance is within 10%.
    const relVar = (a: Float64Array, b: number) => a.reduce((s, v) => s + v * v, 0) / a.length / ((b * b) / 3);
    expect(relVar(want.A, boundA)).toBeGreaterThan(0.9);
    expect(relVar(want.A, boundA)).toBeLessThan(1.1);
    expect(relVar(want.B, boundB)).toBeGreaterThan(0.9);
    expect(relVar(want.B, boundB)).toBeLessThan(1.1);
    const other = veraBasesArrays(r, shared, 100);
    expect(maxRelError(other.A, want.A)).toBeGreaterThan(0.5);

    const [O, I, N] = [65, 33, 7];
    const layer = veraInitLayer(ctx, O, r);
    expect(Array.from(await layer.lambdaB.read())).toEqual(new Array(O).fill(0));
    expect(Array.from(await layer.lambdaD.read())).toEqual(new Array(r).fill(Math.fround(0.1)));

    const W = Tensor.from(ctx, [O, I], Float32Array.from(f32Data(O * I, 5)));
    const merged = veraMerge(W, bases, layer);
    expect(Array.from(await merged.read())).toEqual(Array.from(await W.read()));
    const x = mat(N, I, f32Data(N * I, 6));
    const tx = upload(x, 'x');
    const y0 = Float32Array.from(f32Data(N * O, 7));
    const ty = Tensor.from(ctx, [N, O], y0);
    veraForward(tx, bases, layer, ty);
    expect(Array.from(await ty.read())).toEqual(Array.from(y0));

    // At init λ_b = 0, so dλ_d and the input gradient vanish while dλ_b does not.
    const G = mat(N, O, f32Data(N * O, 8));
    const tG = upload(G, 'G');
    const g = veraBackward(tx, tG, bases, layer);
    const ref: VeraRef = { A, B, lambdaB: new Float64Array(O), lambdaD: new Float64Array(r).fill(Math.fround(0.1)), I };
    const want0 = veraGrads64(x, G, ref);
    expect(Array.from(await g.dLambdaD.read())).toEqual(new Array(r).fill(0));
    expect(maxRelError(await g.dLambdaB.read(), want0.dLambdaB)).toBeLessThan(f32Tolerance(N + I + r));
    for (const t of [bases.A, bases.B, layer.lambdaB, layer.lambdaD, W, merged, tx, ty, tG, g.dLambdaB, g.dLambdaD]) t.release();
  });

  it('refuses layers the shared bases cannot hold, and λ_d of the wrong rank', () => {
    const { ctx } = gpu();
    const bases: VeraBases = { A: Tensor.zeros(ctx, [4, 10]), B: Tensor.zeros(ctx, [8, 4]) };
    const x = Tensor.zeros(ctx, [3, 12]);
    const y = Tensor.zeros(ctx, [3, 8]);
    const ok = veraInitLayer(ctx, 8, 4);
    expect(() => veraForward(x, bases, ok, y)).toThrow(/12 input features but vera_A only 10 columns/);
    const tooWide = veraInitLayer(ctx, 9, 4);
    expect(() => veraMerge(Tensor.zeros(ctx, [9, 10]), bases, tooWide)).toThrow(/9 outputs but vera_B only 8 rows/);
    const wrongRank = veraInitLayer(ctx, 8, 5);
    expect(() => veraMerge(Tensor.zeros(ctx, [8, 10]), bases, wrongRank)).toThrow(/λ_d has 5 entries .* rank 4/);
  });
});

interface Case {
  N: number;
  I: number;
  O: number;
  r: number;
  shared: LayerShape;
  /** The path forward and backward take; 'auto' by cost when absent (veraPath: the first two factored, the third dense). */
  strategy?: VeraStrategy;
}

function resolvedDense(c: Case): boolean {
  return veraPath(c.strategy, c.N, c.I, c.O, c.r) === 'dense';
}

describe('VeRA cost model', () => {
  it('with many rows the merged route (the layer on W + ΔW) pays; its gradients go the cheaper way', () => {
    const N = 8 * 197;
    // PEFT's default r = 256 on ViT-B's 768×768 layer: gradients through h (x·A_sᵀ, dYᵀ·h, du)
    // beat D = dYᵀ·x, and both beat applying ΔW beside W.
    const b = veraStepCost(N, 768, 768, 256);
    expect(b.merged).toBe(768 * 256 * 768 + N * 768 * 768 + 768 * 768 * 256);
    expect(b.mergedFactored).toBe(768 * 256 * 768 + N * 256 * 768 + 2 * N * 768 * 256);
    expect(b.mergedFactored).toBeLessThan(b.merged);
    expect(b.merged).toBeLessThan(b.separate);
    // ViT-S (384 wide): r = 256 is two thirds of the width, so D = dYᵀ·x is the cheaper way.
    const s = veraStepCost(N, 384, 384, 256);
    expect(s.merged).toBeLessThan(Math.min(s.mergedFactored, s.separate));
    // The merged route drops the y and dx products through N × r at the price of forming ΔW once:
    // it pays once N·(I + O) > O·I, so not for a handful of rows.
    const few = veraStepCost(7, 768, 768, 4);
    expect(few.separate).toBeLessThan(Math.min(few.merged, few.mergedFactored));
    expect(few.separate).toBe(7 * 4 * (768 + 768) + 2 * 7 * 768 * 4 + 7 * 4 * 768);
  });
});

describe('VeRA kernels against the float64 reference', () => {
  const cases: Case[] = [
    // Slices of both bases are strict: I < I_max and O < O_max.
    { N: 7, I: 65, O: 197, r: 7, shared: { out: 768, in: 197 } },
    { N: 65, I: 197, O: 65, r: 65, shared: { out: 197, in: 768 } },
    // PEFT's default rank at a ViT width, I > O.
    { N: 197, I: 768, O: 65, r: 256, shared: { out: 768, in: 768 } },
    { N: 1, I: 65, O: 65, r: 1, shared: { out: 197, in: 65 } },
    // The dense path (forms ΔW, reduces (dYᵀ·x)·A_sᵀ) on shapes where auto takes the factored one.
    { N: 65, I: 197, O: 65, r: 65, shared: { out: 197, in: 768 }, strategy: 'dense' },
    { N: 7, I: 65, O: 197, r: 7, shared: { out: 768, in: 197 }, strategy: 'dense' },
  ];
  cases.forEach((c, ci) => {
    it(`N=${c.N} I=${c.I} O=${c.O} r=${c.r} bases ${c.shared.out}x${c.shared.in} ${c.strategy ?? 'auto'}: merge, forward, backward`, async () => {
      const { ctx } = gpu();
      const seed = 500 + 20 * ci;
      const { bases, A, B } = await makeBases(c.r, c.shared, seed);
      // Random λ, not the init values: at init λ_b = 0 makes dλ_d and dx vanish.
      const ref: VeraRef = { A, B, lambdaB: f32Data(c.O, seed + 1), lambdaD: f32Data(c.r, seed + 2), I: c.I };
      const layer: VeraLayerParams = { lambdaB: vec(ref.lambdaB, 'lambda_b'), lambdaD: vec(ref.lambdaD, 'lambda_d') };
      const x = mat(c.N, c.I, f32Data(c.N * c.I, seed + 3));
      const G = mat(c.N, c.O, f32Data(c.N * c.O, seed + 4));
      const W = mat(c.O, c.I, f32Data(c.O * c.I, seed + 5));
      const y0 = mat(c.N, c.O, f32Data(c.N * c.O, seed + 6));
      const dx0 = mat(c.N, c.I, f32Data(c.N * c.I, seed + 7));
      const [tW, tx, tG, ty, tdx] = [upload(W, 'W'), upload(x, 'x'), upload(G, 'G'), upload(y0, 'y'), upload(dx0, 'dx')];

      const merged = veraMerge(tW, bases, layer);
      const h = veraForward(tx, bases, layer, ty, { save: true, strategy: c.strategy });
      // The dense path saves nothing; the factored one saves h exactly when it is the one taken.
      expect(h === undefined).toBe(resolvedDense(c));
      const g = veraBackward(tx, tG, bases, layer, { dx: tdx, h, strategy: c.strategy });
      const [gotMerged, gotY, gotDx, gotDB, gotDD] = await Promise.all(
        [merged, ty, tdx, g.dLambdaB, g.dLambdaD].map((t) => t.read()),
      );

      const want = veraGrads64(x, G, ref);
      // Contractions chained through rank-r intermediates round like one contraction of the
      // summed lengths: merge r; y I then r; dx O then r; dλ_b N (dYᵀh) after I (h) then r;
      // dλ_d O (du) then N, after I (h).
      expect(maxRelError(gotMerged, addTo(W, veraDeltaW64(ref)))).toBeLessThan(f32Tolerance(c.r));
      expect(maxRelError(gotY, addTo(y0, veraContribution64(x, ref)))).toBeLessThan(f32Tolerance(c.I + c.r));
      expect(maxRelError(gotDx, addTo(dx0, want.dx))).toBeLessThan(f32Tolerance(c.O + c.r));
      expect(maxRelError(gotDB, want.dLambdaB)).toBeLessThan(f32Tolerance(c.N + c.I + c.r));
      expect(maxRelError(gotDD, want.dLambdaD)).toBeLessThan(f32Tolerance(c.O + c.N + c.I));

      if (resolvedDense(c)) {
        // The dense forward's ΔW, kept for the backward's dx, gives the bits of forming it again.
        const yK = upload(y0, 'yK');
        const kept = veraForwardSaved(tx, bases, layer, yK, c.strategy);
        expect(kept.h).toBeUndefined();
        expect(kept.deltaW?.shape).toEqual([c.O, c.I]);
        const [dxKept, dxFresh] = [upload(dx0, 'dxK'), upload(dx0, 'dxF')];
        const gKept = veraBackward(tx, tG, bases, layer, { dx: dxKept, deltaW: kept.deltaW, strategy: c.strategy });
        const gFresh = veraBackward(tx, tG, bases, layer, { dx: dxFresh, strategy: c.strategy });
        expect(await dxKept.read()).toEqual(await dxFresh.read());
        expect(await yK.read()).toEqual(await ty.read());
        for (const t of [yK, kept.deltaW!, dxKept, dxFresh, gKept.dLambdaB, gKept.dLambdaD, gFresh.dLambdaB, gFresh.dLambdaD]) t.release();
      }

      // The merged weight must give what the unmerged forward gives: x·W'ᵀ = x·Wᵀ + x·ΔWᵀ.
      const yMerged = matmul(tx, merged, { transB: true });
      const yBase = matmul(tx, tW, { transB: true });
      veraForward(tx, bases, layer, yBase);
      const [a, b] = await Promise.all([yMerged.read(), yBase.read()]);
      expect(maxRelError(a, Float64Array.from(b))).toBeLessThan(f32Tolerance(c.I + c.r));

      for (const t of [bases.A, bases.B, layer.lambdaB, layer.lambdaD, tW, tx, tG, ty, tdx, merged, h, g.dLambdaB, g.dLambdaD, yMerged, yBase]) {
        t?.release();
      }
    });
  });

  it('merged route, both ways to the gradients: the layer on W + ΔW, λ gradients without dx', async () => {
    const { ctx } = gpu();
    const c = { N: 65, I: 197, O: 65, r: 65, shared: { out: 197, in: 768 } };
    const { bases, A, B } = await makeBases(c.r, c.shared, 900);
    const ref: VeraRef = { A, B, lambdaB: f32Data(c.O, 901), lambdaD: f32Data(c.r, 902), I: c.I };
    const layer: VeraLayerParams = { lambdaB: vec(ref.lambdaB, 'lambda_b'), lambdaD: vec(ref.lambdaD, 'lambda_d') };
    const x = mat(c.N, c.I, f32Data(c.N * c.I, 903));
    const G = mat(c.N, c.O, f32Data(c.N * c.O, 904));
    const W = mat(c.O, c.I, f32Data(c.O * c.I, 905));
    const [tW, tx, tG] = [upload(W, 'W'), upload(x, 'x'), upload(G, 'G')];
    const want = veraGrads64(x, G, ref);
    for (const route of ['merged', 'mergedFactored'] as const) {
      const m = veraForwardMerged(tx, tW, bases, layer, route)!;
      expect(m.h === undefined, route).toBe(route === 'merged');
      // y = x·(W + ΔW)ᵀ and dx = dY·(W + ΔW): the model's own GEMMs on the merged weight.
      const y = matmul(tx, m.weight, { transB: true });
      const dx = matmul(tG, m.weight);
      const g = veraBackward(tx, tG, bases, layer, m.h ? { strategy: 'factored', h: m.h } : { strategy: 'dense' });
      const [gotY, gotDx, gotDB, gotDD] = await Promise.all([y, dx, g.dLambdaB, g.dLambdaD].map((t) => t.read()));
      const xW = mat(c.N, c.O, Float64Array.from({ length: c.N * c.O }, (_, i) => {
        const [n, o] = [Math.floor(i / c.O), i % c.O];
        let acc = 0;
        for (let k = 0; k < c.I; k++) acc += x.data[n * c.I + k] * W.data[o * c.I + k];
        return acc;
      }));
      expect(maxRelError(gotY, addTo(xW, veraContribution64(x, ref)))).toBeLessThan(f32Tolerance(c.I + c.r));
      const dYW = Float64Array.from({ length: c.N * c.I }, (_, i) => {
        const [n, k] = [Math.floor(i / c.I), i % c.I];
        let acc = 0;
        for (let o = 0; o < c.O; o++) acc += G.data[n * c.O + o] * W.data[o * c.I + k];
        return acc;
      });
      expect(maxRelError(gotDx, Float64Array.from(dYW, (v, i) => v + want.dx.data[i]))).toBeLessThan(f32Tolerance(c.O + c.r));
      expect(maxRelError(gotDB, want.dLambdaB)).toBeLessThan(f32Tolerance(c.N + c.I + c.r));
      expect(maxRelError(gotDD, want.dLambdaD)).toBeLessThan(f32Tolerance(c.O + c.N + c.I));
      for (const t of [m.weight, m.h, y, dx, g.dLambdaB, g.dLambdaD]) t?.release();
    }
    for (const t of [bases.A, bases.B, layer.lambdaB, layer.lambdaD, tW, tx, tG]) t.release();
  });

  it('folds leading batch dimensions of x and dY into the token count', async () => {
    const { ctx } = gpu();
    const [bt, T, I, O, r] = [2, 7, 9, 5, 3];
    const { bases, A, B } = await makeBases(r, { out: 6, in: 11 }, 41);
    const ref: VeraRef = { A, B, lambdaB: f32Data(O, 42), lambdaD: f32Data(r, 43), I };
    const layer: VeraLayerParams = { lambdaB: vec(ref.lambdaB, 'lambda_b'), lambdaD: vec(ref.lambdaD, 'lambda_d') };
    const x = mat(bt * T, I, f32Data(bt * T * I, 44));
    const G = mat(bt * T, O, f32Data(bt * T * O, 45));
    const tx = Tensor.from(ctx, [bt, T, I], Float32Array.from(x.data));
    const tG = Tensor.from(ctx, [bt, T, O], Float32Array.from(G.data));
    const ty = Tensor.zeros(ctx, [bt, T, O]);
    veraForward(tx, bases, layer, ty);
    const g = veraBackward(tx, tG, bases, layer);
    const want = veraGrads64(x, G, ref);
    expect(maxRelError(await ty.read(), veraContribution64(x, ref).data)).toBeLessThan(f32Tolerance(I + r));
    expect(maxRelError(await g.dLambdaB.read(), want.dLambdaB)).toBeLessThan(f32Tolerance(bt * T + I + r));
    expect(maxRelError(await g.dLambdaD.read(), want.dLambdaD)).toBeLessThan(f32Tolerance(O + bt * T + I));
    for (const t of [bases.A, bases.B, layer.lambdaB, layer.lambdaD, tx, tG, ty, g.dLambdaB, g.dLambdaD]) t.release();
  });
});

describe('VeRA gradients by central finite differences', () => {
  it('float64: analytic gradients of λ_b, λ_d and x match central differences of the reference loss', () => {
    const shapes: Array<[number, number, number, number, LayerShape]> = [
      [5, 6, 4, 3, { out: 7, in: 9 }],
      [4, 8, 6, 5, { out: 6, in: 8 }],
    ];
    for (const [N, I, O, r, shared] of shapes) {
      const ref: VeraRef = {
        A: mat(r, shared.in, testData(r * shared.in, 61)),
        B: mat(shared.out, r, testData(shared.out * r, 62)),
        lambdaB: testData(O, 63),
        lambdaD: testData(r, 64),
        I,
      };
      const x = mat(N, I, testData(N * I, 65));
      const G = mat(N, O, testData(N * O, 66));
      const g = veraGrads64(x, G, ref);
      // L is linear in each single coordinate (ΔW is bilinear in λ_b and λ_d), so a central
      // difference has no truncation error; 1e-6 relative is far above float64 rounding.
      const eps = 1e-3;
      const fd = (t: Float64Array) =>
        t.map((v, i) => {
          t[i] = v + eps;
          const lp = veraLoss64(x, G, ref);
          t[i] = v - eps;
          const lm = veraLoss64(x, G, ref);
          t[i] = v;
          return (lp - lm) / (2 * eps);
        });
      expect(maxRelError(g.dLambdaB, fd(ref.lambdaB))).toBeLessThan(1e-6);
      expect(maxRelError(g.dLambdaD, fd(ref.lambdaD))).toBeLessThan(1e-6);
      expect(maxRelError(g.dx.data, fd(x.data))).toBeLessThan(1e-6);
    }
  });

  it('GPU: central differences of the f32 forward agree with the GPU backward on sampled coordinates', async () => {
    const { ctx } = gpu();
    const [N, I, O, r] = [7, 65, 33, 16];
    const { bases, A, B } = await makeBases(r, { out: 65, in: 65 }, 71);
    const ref: VeraRef = { A, B, lambdaB: f32Data(O, 72), lambdaD: f32Data(r, 73), I };
    const layer: VeraLayerParams = { lambdaB: vec(ref.lambdaB, 'lambda_b'), lambdaD: vec(ref.lambdaD, 'lambda_d') };
    const x = mat(N, I, f32Data(N * I, 74));
    const G = mat(N, O, f32Data(N * O, 75));
    const tx = upload(x, 'x');
    const tG = upload(G, 'G');
    const g = veraBackward(tx, tG, bases, layer);
    const [gotDB, gotDD] = await Promise.all([g.dLambdaB.read(), g.dLambdaD.read()]);

    const gpuLoss = async () => {
      const y = Tensor.zeros(ctx, [N, O]);
      veraForward(tx, bases, layer, y);
      const yv = await y.read();
      y.release();
      let L = 0;
      for (let i = 0; i < yv.length; i++) L += G.data[i] * yv[i];
      return L;
    };
    // y is linear in any one λ coordinate, so ε can be large (no truncation error) and the
    // difference is dominated by f32 rounding of y: each y is off by at most f32Tolerance(I + r)
    // of max|y|, so L by that times Σ|G|, and the quotient by twice that over 2ε.
    const eps = 0.5;
    const maxY = Math.max(...veraContribution64(x, ref).data.map(Math.abs));
    const sumG = G.data.reduce((a, v) => a + Math.abs(v), 0);
    const tol = (2 * f32Tolerance(I + r) * maxY * sumG) / (2 * eps);
    const probe = async (t: Tensor, host: Float64Array, i: number): Promise<number> => {
      const v = host[i];
      ctx.upload(t.buffer, Float32Array.of(v + eps), 4 * i);
      const lp = await gpuLoss();
      ctx.upload(t.buffer, Float32Array.of(v - eps), 4 * i);
      const lm = await gpuLoss();
      ctx.upload(t.buffer, Float32Array.of(v), 4 * i);
      return (lp - lm) / (2 * eps);
    };
    const want = veraGrads64(x, G, ref);
    for (const i of [0, 17, O - 1]) {
      const fd = await probe(layer.lambdaB, ref.lambdaB, i);
      expect(Math.abs(fd - gotDB[i])).toBeLessThan(tol);
      expect(Math.abs(fd - want.dLambdaB[i])).toBeLessThan(tol);
    }
    for (const i of [0, 9, r - 1]) {
      const fd = await probe(layer.lambdaD, ref.lambdaD, i);
      expect(Math.abs(fd - gotDD[i])).toBeLessThan(tol);
      expect(Math.abs(fd - want.dLambdaD[i])).toBeLessThan(tol);
    }
    // The bound must be well under the gradients it checks, or the check would prove nothing.
    const typical = (a: Float64Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    expect(tol).toBeLessThan(0.05 * Math.min(typical(want.dLambdaB), typical(want.dLambdaD)));
    for (const t of [bases.A, bases.B, layer.lambdaB, layer.lambdaD, tx, tG, g.dLambdaB, g.dLambdaD]) t.release();
  });
});
