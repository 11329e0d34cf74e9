/**
 * The ops composed into one pre-LN encoder layer (HF ViTLayer: layernorm_before → attention →
 * residual → layernorm_after → intermediate (GELU) → output → residual; CLIPEncoderLayer the same
 * with quick_gelu), forward and backward, fused as the model fuses them (Q, K and V in one GEMM
 * and their input gradient in one, the residual adds and the activation in GEMM epilogues, act'
 * folded into fc2's input gradient), with launches batched into one command encoder as in training (not submitted one by one).
 * The GPU gradients are compared with central finite differences of a float64 forward, so this
 * checks the composition end to end, and shows the model assembler how the ops fit together.
 */
import { describe, expect, it } from 'vitest';
import { useGpu, testData } from '../../testing/gpu';
import { cotangent, dot64, f32Round, numericGradient, relErr } from '../../testing/gradcheck';
import { Tensor } from '../tensor';
import { mat, matmul64, maxRelError, transpose } from '../reference/linalg';
import { attention64 } from '../reference/attention';
import { activationForward64, biasAdd64, type Activation64 } from '../reference/elementwise';
import { layerNorm64 } from '../reference/layernorm';
import { copy } from './elementwise';
import { attention, attentionBackward } from './attention';
import { layerNorm, layerNormBackward } from './layernorm';
import { matmul, matmulSplitDepth, matmulSplitOutputs } from './matmul';
import { sumRows } from './reduce';

const gpu = useGpu();

const [B, T, D, H, F] = [2, 7, 12, 3, 24];
const NAMES = ['ln1w', 'ln1b', 'wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'wo', 'bo', 'ln2w', 'ln2b', 'w1', 'b1', 'w2', 'b2'] as const;
type Name = (typeof NAMES)[number];
const SHAPES: Record<Name, number[]> = {
  ln1w: [D], ln1b: [D], wq: [D, D], bq: [D], wk: [D, D], bk: [D], wv: [D, D], bv: [D],
  wo: [D, D], bo: [D], ln2w: [D], ln2b: [D], w1: [F, D], b1: [F], w2: [D, F], b2: [D],
};

function linear64(x: Float64Array, w: Float64Array, b: Float64Array, rows: number, out: number, inp: number): Float64Array {
  return biasAdd64(matmul64(mat(rows, inp, x), transpose(mat(out, inp, w))).data, b);
}

interface Variant {
  name: string;
  act: Activation64;
  eps: number;
}

// HF ViTLayer (gelu, layer_norm_eps 1e-12) and CLIPEncoderLayer (quick_gelu, 1e-5) have the same
// pre-LN structure; only the activation and eps differ.
const VARIANTS: Variant[] = [
  { name: 'ViT layer (gelu, eps 1e-12)', act: 'gelu', eps: 1e-12 },
  { name: 'CLIP layer (quick_gelu, eps 1e-5)', act: 'quick_gelu', eps: 1e-5 },
];

function block64(x: Float64Array, p: Record<Name, Float64Array>, { act, eps: EPS }: Variant): Float64Array {
  const R = B * T;
  const h1 = layerNorm64(x, p.ln1w, p.ln1b, R, D, EPS).y;
  const q = linear64(h1, p.wq, p.bq, R, D, D);
  const k = linear64(h1, p.wk, p.bk, R, D, D);
  const v = linear64(h1, p.wv, p.bv, R, D, D);
  const a = attention64(q, k, v, { batch: B, tokens: T, heads: H, headDim: D / H }).out;
  const x2 = linear64(a, p.wo, p.bo, R, D, D).map((o, i) => o + x[i]);
  const h2 = layerNorm64(x2, p.ln2w, p.ln2b, R, D, EPS).y;
  const u = activationForward64(linear64(h2, p.w1, p.b1, R, F, D), act);
  return linear64(u, p.w2, p.b2, R, D, F).map((y, i) => y + x2[i]);
}

async function checkLayer(variant: Variant): Promise<void> {
  const EPS = variant.eps;
  const { ctx } = gpu();
  ctx.checkEachLaunch = false;
  const x64 = f32Round(testData(B * T * D, 1));
  const p64 = Object.fromEntries(
    NAMES.map((n, i) => {
      const size = SHAPES[n].reduce((a, b) => a * b, 1);
      // Layernorm weights around 1; the rest at nn.Linear's scale U(±1/√fan_in).
      const lim = 1 / Math.sqrt(SHAPES[n][SHAPES[n].length - 1]);
      const d = n === 'ln1w' || n === 'ln2w' ? testData(size, 10 + i, 0.7, 1.3) : testData(size, 10 + i, -lim, lim);
      return [n, f32Round(d)];
    }),
  ) as Record<Name, Float64Array>;
  const cot = f32Round(cotangent(B * T * D, 2));

  const up = (shape: number[], d: ArrayLike<number>) => Tensor.from(ctx, shape, Float32Array.from(d));
  const P = Object.fromEntries(NAMES.map((n) => [n, up(SHAPES[n], p64[n])])) as Record<Name, Tensor>;
  const x = up([B, T, D], x64);
  const dOut = up([B, T, D], cot);
  const R = B * T;
  const flat = (t: Tensor) => t.reshape([R, t.size / R]);
  const lin = (inp: Tensor, w: Tensor, b: Tensor, residual?: Tensor) => matmul(flat(inp), w, { transB: true, bias: b, residual: residual && flat(residual) }).reshape([B, T, w.shape[0]]);

  // Forward, keeping what the backward needs.
  const ln1 = layerNorm(x, P.ln1w, P.ln1b, EPS);
  const [q, k, v] = matmulSplitOutputs(flat(ln1.y), [P.wq, P.wk, P.wv], { transB: true, bias: [P.bq, P.bk, P.bv] }).map((t) => t.reshape([B, T, D]));
  const att = attention(q, k, v, H);
  const x2 = lin(att.out, P.wo, P.bo, x);
  const ln2 = layerNorm(x2, P.ln2w, P.ln2b, EPS);
  const pre = Tensor.empty(ctx, [B, T, F]);
  const act = matmul(flat(ln2.y), P.w1, { transB: true, bias: P.b1, activation: variant.act, preOut: pre }).reshape([B, T, F]);
  const out = lin(act, P.w2, P.b2, x2);
  expect(maxRelError(await out.read(), block64(x64, p64, variant))).toBeLessThan(2e-6);

  // Backward: y = x2 + fc2(gelu(fc1(ln2(x2)))), x2 = x + o(attn(ln1(x))).
  const g: Partial<Record<Name, Tensor>> = {};
  const dy = flat(dOut);
  g.w2 = matmul(dy, flat(act), { transA: true });
  g.b2 = sumRows(dy);
  const dPre = matmul(dy, P.w2, { activationGrad: { activation: variant.act, pre } }).reshape([B, T, F]);
  g.w1 = matmul(flat(dPre), flat(ln2.y), { transA: true });
  g.b1 = sumRows(flat(dPre));
  const dH2 = matmul(flat(dPre), P.w1).reshape([B, T, D]);
  const dX2 = copy(dOut);
  const ln2g = layerNormBackward(dH2, x2, P.ln2w, ln2, { dx: dX2, accumulateInput: true, weightGrad: true });
  g.ln2w = ln2g.dweight;
  g.ln2b = ln2g.dbias;
  g.wo = matmul(flat(dX2), flat(att.out), { transA: true });
  g.bo = sumRows(flat(dX2));
  const dA = matmul(flat(dX2), P.wo).reshape([B, T, D]);
  const { dq, dk, dv } = attentionBackward(dA, att.saved!);
  const dH1 = matmulSplitDepth([flat(dq), flat(dk), flat(dv)], [P.wq, P.wk, P.wv]);
  for (const [w, b, d] of [
    ['wq', 'bq', dq],
    ['wk', 'bk', dk],
    ['wv', 'bv', dv],
  ] as const) {
    g[w] = matmul(flat(d), flat(ln1.y), { transA: true });
    g[b] = sumRows(flat(d));
  }
  const dX = copy(dX2);
  const ln1g = layerNormBackward(dH1.reshape([B, T, D]), x, P.ln1w, ln1, { dx: dX, accumulateInput: true, weightGrad: true });
  g.ln1w = ln1g.dweight;
  g.ln1b = ln1g.dbias;

  // Finite differences of the float64 layer (every x entry; for each weight every 5th entry).
  const loss = (xx: Float64Array, pp: Record<Name, Float64Array>) => dot64(block64(xx, pp, variant), cot);
  const fdX = numericGradient((xx) => loss(xx, p64), x64);
  // The GPU works in f32 (errors ~4e-7 of the largest gradient were seen through ~6 chained
  // ops); the finite differences are exact to ~1e-9. An error in any backward is of order 1.
  const TOL = 1e-5;
  expect(relErr(await dX.read(), fdX)).toBeLessThan(TOL);
  for (const n of NAMES) {
    const idx = Array.from({ length: Math.ceil(p64[n].length / 5) }, (_, i) => i * 5);
    const fd = numericGradient((w) => loss(x64, { ...p64, [n]: w }), p64[n], 1e-5, idx);
    const got = await g[n]!.read();
    if (n === 'bk') {
      // The key bias adds q·bk to every score of a row, which softmax ignores: its gradient is
      // exactly 0, so only the size of the f32 rounding noise can be checked.
      expect(Math.max(...idx.map((i) => Math.abs(fd[i])))).toBeLessThan(1e-8);
      expect(Math.max(...Array.from(got, Math.abs))).toBeLessThan(1e-5);
      continue;
    }
    expect(relErr(got, fd, idx), n).toBeLessThan(TOL);
  }
  ctx.checkEachLaunch = true;
}

describe('a transformer encoder layer composed from the ops', () => {
  for (const variant of VARIANTS) {
    it(`${variant.name}: forward and gradients (x, weights, biases, layernorms) match float64 finite differences`, () =>
      checkLayer(variant));
  }
});
