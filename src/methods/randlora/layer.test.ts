import { describe, expect, it } from 'vitest';
import { f32Tolerance, testData, useGpu } from '../../testing/gpu';
import { Tensor } from '../../engine/tensor';
import { matmul } from '../../engine/ops/matmul';
import {
  randloraBackward,
  randloraBases,
  randloraBasesArrays,
  randloraCost,
  randloraForward,
  randloraInit,
  randloraLayerShape,
  randloraMerge,
  randloraParamCount,
  randloraSharedShape,
  randloraStepCost,
  RANDLORA_DEFAULTS,
  type RandLoraBases,
  type RandLoraLayer,
  type RandLoraSharedShape,
} from './layer';
import { mat, maxRelError, type Mat } from '../../engine/reference/linalg';
import { refDeltaW, refForward, refGrads, refLoss, type RandLoraRefShape, type RandLoraRefTensors } from './reference';

const gpu = useGpu();

const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));

describe('RandLoRA shapes, as PEFT sizes them', () => {
  // ViT-B/16 linear layers as (out, in): q, k, v, attention output, fc1 (intermediate), fc2 (output).
  const attn: [number, number][] = [[768, 768], [768, 768], [768, 768], [768, 768]];
  const fc1: [number, number] = [3072, 768];
  const fc2: [number, number] = [768, 3072];

  it('takes the element-wise maximum of (out, in) over the targeted layers, like _find_dim', () => {
    expect(randloraSharedShape(attn, 32)).toEqual({ r: 32, minDim: 768, maxDim: 768, numBases: 24 });
    expect(randloraSharedShape([...attn, fc1], 32)).toEqual({ r: 32, minDim: 768, maxDim: 3072, numBases: 24 });
    expect(randloraSharedShape([...attn, fc2], 32)).toEqual({ r: 32, minDim: 768, maxDim: 3072, numBases: 24 });
    // fc1 brings out = 3072 and fc2 brings in = 3072, so PEFT makes A (32, 1, 3072) and 96 bases,
    // although no single layer has a min dimension above 768.
    expect(randloraSharedShape([...attn, fc1, fc2], 32)).toEqual({ r: 32, minDim: 3072, maxDim: 3072, numBases: 96 });
    // A classifier head (10 x 768) changes nothing; r that does not divide minDim rounds the bases up.
    expect(randloraSharedShape([...attn, [10, 768]], 20)).toEqual({ r: 20, minDim: 768, maxDim: 768, numBases: 39 });
    // ViT-S/16-like (384 wide, 1536 MLP), the maxima coming from different layers.
    expect(randloraSharedShape([[384, 384], [1536, 384]], 32)).toEqual({ r: 32, minDim: 384, maxDim: 1536, numBases: 12 });
    expect(randloraSharedShape([[197, 65], [7, 768]], 8)).toEqual({ r: 8, minDim: 197, maxDim: 768, numBases: 25 });
  });

  it('sizes each layer and counts its parameters as PEFT does', () => {
    expect(randloraLayerShape(768, 768, 32)).toMatchObject({ m: 768, M: 768, nb: 24, inputIsMin: true });
    expect(randloraLayerShape(768, 3072, 32)).toMatchObject({ m: 768, M: 3072, nb: 24, inputIsMin: false });
    expect(randloraLayerShape(197, 65, 8)).toMatchObject({ m: 65, M: 197, nb: 9, inputIsMin: true });
    // λ (32 x 24) + γ (24 x 768).
    expect(randloraParamCount(768, 768, 32)).toBe(32 * 24 + 24 * 768);
    expect(RANDLORA_DEFAULTS).toEqual({ r: 32, alpha: 640, seed: 0 });
  });

  it('picks the factored path for few rows and the dense one for many, by operation count', () => {
    const sq = randloraLayerShape(768, 768, 32);
    const few = randloraCost(sq, 7);
    const many = randloraCost(sq, 197 * 32);
    expect(few.forward.factored).toBeLessThan(few.forward.dense);
    expect(many.forward.dense).toBeLessThan(many.forward.factored);
    expect(few.backward.factored).toBeLessThan(few.backward.dense);
    expect(many.backward.dense).toBeLessThan(many.backward.factored);
    // Square, r·nb = m: factored forward is 2·N·m², dense is m² + m³ + N·m².
    expect(few.forward.factored).toBe(2 * 7 * 768 * 768);
    expect(few.forward.dense).toBe(768 * 768 + 768 ** 3 + 7 * 768 * 768);
  });

  it('the merged route (the layer on W + ΔW) pays for many rows and saves two N·O·I products there', () => {
    const sq = randloraLayerShape(768, 768, 32);
    const few = randloraStepCost(sq, 7);
    expect(few.merged).toBeGreaterThan(few.separate);
    // ViT-B/16 at batch 8: 1576 rows. Separate = kept ΔW beside W (dense), which costs the merged
    // route plus x·ΔWᵀ and dY·ΔW.
    const N = 8 * 197;
    const many = randloraStepCost(sq, N);
    expect(many.merged).toBeLessThan(many.separate);
    expect(many.separate - many.merged).toBe(2 * N * 768 * 768);
    // Merged: S (J·m) and ΔW (J·m·M), then D = dYᵀ·x and G = Bfᵀ·D.
    expect(many.merged).toBe(768 * 768 + 768 ** 3 + N * 768 * 768 + 768 ** 3);
  });

  it('refuses empty target lists and a non-positive r, saying why', () => {
    expect(() => randloraSharedShape([], 32)).toThrow(/no target layers/);
    expect(() => randloraSharedShape([[768, 768]], 0)).toThrow(/r must be a positive integer/);
  });
});

// Each group shares one pair of bases sized over its layers, as PEFT does, plus an extra layer
// that makes the bases larger than every tested layer, so the slicing of B (rows < maxDim, bases
// < numBases) and of A (columns < minDim) is exercised.
interface Case {
  N: number;
  O: number;
  I: number;
}
interface Group {
  r: number;
  alpha: number;
  extra: [number, number];
  cases: Case[];
}
const groups: Group[] = [
  { r: 8, alpha: 16, extra: [100, 300], cases: [{ N: 7, O: 197, I: 65 }] },
  { r: 4, alpha: 4, extra: [9, 250], cases: [{ N: 65, O: 7, I: 197 }, { N: 1, O: 1, I: 7 }] },
  {
    r: 32,
    alpha: 640,
    extra: [768, 768],
    cases: [
      { N: 197, O: 65, I: 65 },
      { N: 7, O: 197, I: 768 },
      { N: 197, O: 768, I: 65 },
    ],
  },
];

interface Fixture {
  layer: RandLoraLayer;
  d: RandLoraRefShape;
  t: RandLoraRefTensors;
  x: Mat;
  W: Mat;
  G: Mat;
  xT: Tensor;
  WT: Tensor;
  GT: Tensor;
}

const basesCache = new Map<string, { bases: RandLoraBases; A: Float64Array; B: Float64Array }>();

async function basesFor(g: Group): Promise<{ bases: RandLoraBases; A: Float64Array; B: Float64Array }> {
  const key = `${g.r}`;
  let hit = basesCache.get(key);
  if (!hit) {
    const shared = randloraSharedShape([...g.cases.map((c) => [c.O, c.I] as [number, number]), g.extra], g.r);
    const bases = randloraBases(gpu().ctx, shared, 7);
    // The reference uses the values the GPU holds, so the comparison tests the kernels only.
    hit = { bases, A: Float64Array.from(await bases.A.read()), B: Float64Array.from(await bases.B.read()) };
    basesCache.set(key, hit);
  }
  return hit;
}

/** A layer with random λ and γ, scaled so that ΔW and W are of the same size. */
async function fixture(g: Group, c: Case, seed: number): Promise<Fixture> {
  const { ctx } = gpu();
  const { bases, A, B } = await basesFor(g);
  const layer = randloraInit(ctx, bases, c.O, c.I, g.alpha);
  const { r, nb, m } = layer.shape;
  const gammaScale = 1 / (layer.scale * Math.sqrt(r * nb));
  const lambda = f32(testData(r * nb, seed));
  const gamma = f32(testData(nb * m, seed + 1, -gammaScale, gammaScale));
  ctx.upload(layer.lambda.buffer, Float32Array.from(lambda));
  ctx.upload(layer.gamma.buffer, Float32Array.from(gamma));
  const x = mat(c.N, c.I, f32(testData(c.N * c.I, seed + 2)));
  const W = mat(c.O, c.I, f32(testData(c.O * c.I, seed + 3)));
  const G = mat(c.N, c.O, f32(testData(c.N * c.O, seed + 4)));
  const sh = bases.shape;
  return {
    layer,
    d: { O: c.O, I: c.I, r, minDim: sh.minDim, maxDim: sh.maxDim, numBases: sh.numBases },
    t: { A, B, lambda, gamma, scale: layer.scale },
    x,
    W,
    G,
    xT: Tensor.from(ctx, [c.N, c.I], Float32Array.from(x.data)),
    WT: Tensor.from(ctx, [c.O, c.I], Float32Array.from(W.data)),
    GT: Tensor.from(ctx, [c.N, c.O], Float32Array.from(G.data)),
  };
}

function release(f: Fixture): void {
  for (const t of [f.xT, f.WT, f.GT, f.layer.lambda, f.layer.gamma]) t.release();
}

/**
 * Forward tolerance: y = s·(x·P)·Q is two chained f32 contractions, of length I then r·nb for
 * I <= O (r·nb then m for I > O, in the other order), and each generated S element carries two
 * extra roundings from λ·A·γ. The first contraction's relative error passes through the second
 * unamplified relative to the output's scale, so the bounds add.
 */
function forwardTol(f: Fixture): number {
  const { I, r, nb, m } = f.layer.shape;
  return f32Tolerance(I) + f32Tolerance(r * nb) + f32Tolerance(m) + 4 * 2 ** -24;
}

/**
 * Gradient tolerance: dλ and dγ come from dh (a contraction of length O, or of m for I > O),
 * then G = dhᵀ·x (length N), then a reduction over m (dλ) or r (dγ). Three chained f32 sums.
 */
function gradTol(f: Fixture): number {
  const { O, I, r, m } = f.layer.shape;
  return f32Tolerance(Math.max(O, I)) + f32Tolerance(f.x.rows) + f32Tolerance(m) + f32Tolerance(r);
}

async function gpuForward(f: Fixture): Promise<Float32Array> {
  const y = Tensor.zeros(gpu().ctx, [f.x.rows, f.layer.shape.O]);
  randloraForward(f.layer, f.xT, y, { strategy: 'factored' });
  const out = await y.read();
  y.release();
  return out;
}

describe('RandLoRA kernels against the float64 reference', () => {
  let seed = 1000;
  for (const g of groups) {
    for (const c of g.cases) {
      const name = `r=${g.r} N=${c.N} ${c.O}x${c.I} (${c.I < c.O ? 'in < out' : c.I > c.O ? 'in > out' : 'square'})`;
      const caseSeed = (seed += 10);
      it(name, async () => {
        const { ctx } = gpu();
        const f = await fixture(g, c, caseSeed);
        const dW = refDeltaW(f.d, f.t);
        const tolF = forwardTol(f);

        // (a) merged weight.
        const merged = randloraMerge(f.layer, f.WT);
        const wantMerged = f.W.data.map((w, i) => w + dW.data[i]);
        const gotMerged = await merged.read();
        expect(maxRelError(gotMerged, wantMerged)).toBeLessThan(tolF);

        // (b) forward contribution, accumulated onto a y that already holds something, by both paths.
        const y0 = f32(testData(c.N * c.O, caseSeed + 5));
        const contrib = refForward(f.d, f.t, f.x);
        const wantY = y0.map((v, i) => v + contrib.data[i]);
        for (const strategy of ['factored', 'dense'] as const) {
          const y = Tensor.from(ctx, [c.N, c.O], Float32Array.from(y0));
          randloraForward(f.layer, f.xT, y, { strategy });
          expect(maxRelError(await y.read(), wantY), `forward ${strategy}`).toBeLessThan(tolF);
          y.release();
        }

        // The merged weight and the forward agree: x·(W + ΔW)ᵀ = x·Wᵀ + contribution.
        const yMerged = matmul(f.xT, merged, { transB: true });
        const yBase = matmul(f.xT, f.WT, { transB: true });
        randloraForward(f.layer, f.xT, yBase, { strategy: 'factored' });
        expect(maxRelError(await yMerged.read(), await yBase.read())).toBeLessThan(2 * (tolF + f32Tolerance(c.I)));
        for (const t of [merged, yMerged, yBase]) t.release();

        // (c) backward by both paths: gradients of λ and γ, and dx accumulated onto an existing value.
        const want = refGrads(f.d, f.t, f.x, f.G);
        const dx0 = f32(testData(c.N * c.I, caseSeed + 6));
        const tolG = gradTol(f);
        for (const strategy of ['factored', 'dense'] as const) {
          const dx = Tensor.from(ctx, [c.N, c.I], Float32Array.from(dx0));
          const grads = randloraBackward(f.layer, f.xT, f.GT, { dx, strategy });
          expect(maxRelError(await grads.lambda.read(), want.lambda), `dλ ${strategy}`).toBeLessThan(tolG);
          expect(maxRelError(await grads.gamma.read(), want.gamma), `dγ ${strategy}`).toBeLessThan(tolG);
          // dx = dY·ΔW is the forward's chain transposed, with a contraction over O in place of I.
          const wantDx = dx0.map((v, i) => v + want.dx.data[i]);
          expect(maxRelError(await dx.read(), wantDx), `dx ${strategy}`).toBeLessThan(tolF + f32Tolerance(c.O));
          for (const t of [dx, grads.lambda, grads.gamma]) t.release();
        }
        // The dense forward's ΔW, kept for the backward's dx, gives the bits of forming it again.
        const yK = Tensor.from(ctx, [c.N, c.O], Float32Array.from(y0));
        const kept = randloraForward(f.layer, f.xT, yK, { strategy: 'dense', keepDeltaW: true });
        expect(kept?.shape).toEqual([c.O, c.I]);
        const [dxKept, dxFresh] = [0, 1].map(() => Tensor.from(ctx, [c.N, c.I], Float32Array.from(dx0)));
        const gKept = randloraBackward(f.layer, f.xT, f.GT, { dx: dxKept, strategy: 'dense', deltaW: kept });
        const gFresh = randloraBackward(f.layer, f.xT, f.GT, { dx: dxFresh, strategy: 'dense' });
        expect(await dxKept.read()).toEqual(await dxFresh.read());
        for (const t of [yK, kept!, dxKept, dxFresh, gKept.lambda, gKept.gamma, gFresh.lambda, gFresh.gamma]) t.release();
        // Accumulation into existing gradients: twice the gradient after a second pass.
        const grads = randloraBackward(f.layer, f.xT, f.GT, { strategy: 'factored' });
        randloraBackward(f.layer, f.xT, f.GT, { accumulate: grads, strategy: 'factored' });
        expect(maxRelError(await grads.lambda.read(), want.lambda.map((v) => 2 * v))).toBeLessThan(tolG);
        expect(maxRelError(await grads.gamma.read(), want.gamma.map((v) => 2 * v))).toBeLessThan(tolG);
        for (const t of [grads.lambda, grads.gamma]) t.release();
        release(f);
      });
    }
  }

  it('at PEFT initialisation ΔW = 0: merge returns W, forward adds nothing, dγ = 0 and dλ does not vanish', async () => {
    const { ctx } = gpu();
    const g = groups[0];
    const c = g.cases[0];
    const f = await fixture(g, c, 77);
    const layer = randloraInit(ctx, f.layer.bases, c.O, c.I, g.alpha);
    const { nb, m } = layer.shape;
    expect(Array.from(await layer.lambda.read()).every((v) => v === 0)).toBe(true);
    const gamma0 = Math.fround(1 / Math.max(nb, m));
    expect(Array.from(await layer.gamma.read()).every((v) => v === gamma0)).toBe(true);

    const merged = randloraMerge(layer, f.WT);
    expect(Array.from(await merged.read())).toEqual(Array.from(Float32Array.from(f.W.data)));
    const y0 = Float32Array.from(testData(c.N * c.O, 78));
    const y = Tensor.from(ctx, [c.N, c.O], y0);
    randloraForward(layer, f.xT, y, { strategy: 'factored' });
    expect(Array.from(await y.read())).toEqual(Array.from(y0));

    const grads = randloraBackward(layer, f.xT, f.GT);
    expect(Array.from(await grads.gamma.read()).every((v) => v === 0)).toBe(true);
    const t0 = { ...f.t, lambda: new Float64Array(layer.lambda.size), gamma: new Float64Array(nb * m).fill(gamma0) };
    const want = refGrads(f.d, t0, f.x, f.G);
    expect(Math.max(...want.lambda.map(Math.abs))).toBeGreaterThan(0);
    expect(maxRelError(await grads.lambda.read(), want.lambda)).toBeLessThan(gradTol(f));
    for (const t of [merged, y, grads.lambda, grads.gamma, layer.lambda, layer.gamma]) t.release();
    release(f);
  });

  it('refuses tensors of the wrong shape, naming them', async () => {
    const { ctx } = gpu();
    const g = groups[0];
    const f = await fixture(g, g.cases[0], 91);
    const badX = Tensor.zeros(ctx, [3, 64]);
    const y = Tensor.zeros(ctx, [3, 197]);
    expect(() => randloraForward(f.layer, badX, y)).toThrow(/x has shape \[3,64\].*65/);
    expect(() => randloraMerge(f.layer, y)).toThrow(/W has shape \[3,197\], needs \[197,65\]/);
    expect(() => randloraInit(ctx, f.layer.bases, 400, 65, 16)).toThrow(/randlora_B has 300 rows but 400/);
    for (const t of [badX, y]) t.release();
    release(f);
  });
});

describe('RandLoRA bases', () => {
  it('are the same on the GPU as in the CPU mirror, unit standard deviation, per seed', async () => {
    const { ctx } = gpu();
    const shared: RandLoraSharedShape = randloraSharedShape([[197, 65], [100, 300]], 8);
    const bases = randloraBases(ctx, shared, 3);
    expect(bases.A.shape).toEqual([8, 1, 197]);
    expect(bases.B.shape).toEqual([300, 25, 8]);
    const cpu = randloraBasesArrays(shared, 3);
    // The fill kernel evaluates lo + (hi - lo)·u in f32, the mirror in float64: one rounding apart.
    expect(maxRelError(await bases.A.read(), cpu.A)).toBeLessThan(2 ** -22);
    expect(maxRelError(await bases.B.read(), cpu.B)).toBeLessThan(2 ** -22);
    const std = (a: Float64Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    // 60000 samples: the sample standard deviation is within a few 1/sqrt(2n) ≈ 0.3% of 1.
    expect(Math.abs(std(cpu.B) - 1)).toBeLessThan(0.015);
    expect(Math.abs(std(cpu.A) - 1)).toBeLessThan(0.05);
    // A different seed gives different bases, and A and B do not share values.
    expect(randloraBasesArrays(shared, 4).A[0]).not.toBe(cpu.A[0]);
    expect(cpu.A[0]).not.toBe(cpu.B[0]);
    bases.A.release();
    bases.B.release();
  });
});

describe('RandLoRA gradients by central differences', () => {
  // ΔW is linear in each single coordinate of λ or γ (S is a product with one factor of each), so
  // the loss is linear along every coordinate direction and a central difference has no
  // truncation error at any step: only rounding, which in float64 stays near 1e-12 here.
  it('float64 reference: analytic gradients of every coordinate match (1e-6 relative)', async () => {
    const small: Array<{ g: Group; c: Case; every: number }> = [
      { g: groups[1], c: groups[1].cases[0], every: 1 }, // in > out, all coordinates
      { g: groups[1], c: groups[1].cases[1], every: 1 },
      { g: groups[0], c: groups[0].cases[0], every: 23 }, // in < out, a spread-out subset
      { g: groups[2], c: groups[2].cases[0], every: 41 }, // square, r = 32
    ];
    for (const { g, c, every } of small) {
      const f = await fixture(g, c, 500 + c.N);
      const want = refGrads(f.d, f.t, f.x, f.G);
      for (const which of ['lambda', 'gamma'] as const) {
        const p = f.t[which] as Float64Array;
        const analytic = want[which];
        const fd: number[] = [];
        const an: number[] = [];
        for (let i = 0; i < p.length; i += every) {
          const h = 1e-3;
          const orig = p[i];
          p[i] = orig + h;
          const lp = refLoss(f.d, f.t, f.x, f.G);
          p[i] = orig - h;
          const lm = refLoss(f.d, f.t, f.x, f.G);
          p[i] = orig;
          fd.push((lp - lm) / (2 * h));
          an.push(analytic[i]);
        }
        expect(maxRelError(an, fd), `${which} ${c.O}x${c.I}`).toBeLessThan(1e-6);
      }
      release(f);
    }
  });

  it('GPU: the f32 forward agrees with the GPU backward on a few coordinates of λ and γ', async () => {
    const { ctx } = gpu();
    for (const [g, c] of [
      [groups[0], groups[0].cases[0]],
      [groups[1], groups[1].cases[0]],
    ] as const) {
      const f = await fixture(g, c, 900 + c.N);
      const grads = randloraBackward(f.layer, f.xT, f.GT, { strategy: 'factored' });
      const analytic = { lambda: await grads.lambda.read(), gamma: await grads.gamma.read() };
      const tolY = forwardTol(f);
      const absG = f.G.data.reduce((s, v) => s + Math.abs(v), 0);
      for (const which of ['lambda', 'gamma'] as const) {
        const values = Float32Array.from(f.t[which]);
        const tensor = f.layer[which];
        const gmax = Math.max(...analytic[which].map(Math.abs));
        // A step twice the parameters' largest magnitude: there is no truncation error to limit it
        // (see above), and the larger the step, the further the change in y stands above f32
        // rounding of the rest of y.
        const h = 2 * Math.max(...values.map(Math.abs));
        for (const i of [0, Math.floor(values.length / 2), values.length - 1]) {
          const losses: number[] = [];
          let roundingBound = 0;
          for (const sign of [1, -1]) {
            const v = values.slice();
            v[i] = values[i] + sign * h;
            ctx.upload(tensor.buffer, v);
            const y = await gpuForward(f);
            losses.push(y.reduce((s, yv, k) => s + f.G.data[k] * yv, 0));
            // |ΔL| <= Σ|G|·max|δy|, with |δy| <= tolY·max|y| by the forward test above.
            roundingBound += absG * tolY * Math.max(...y.map(Math.abs));
          }
          ctx.upload(tensor.buffer, values);
          // The step itself is rounded to f32, so divide by the step actually taken.
          const hUp = Math.fround(values[i] + h) - values[i];
          const hDown = values[i] - Math.fround(values[i] - h);
          const fd = (losses[0] - losses[1]) / (hUp + hDown);
          const bound = roundingBound / (hUp + hDown) + gradTol(f) * gmax;
          expect(Math.abs(fd - analytic[which][i]), `${which}[${i}] ${c.O}x${c.I}`).toBeLessThan(bound);
          // And the check is not vacuous: the bound is well below the gradients' scale.
          expect(bound).toBeLessThan(0.05 * gmax);
        }
      }
      grads.lambda.release();
      grads.gamma.release();
      release(f);
    }
  });
});
