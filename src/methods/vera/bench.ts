/**
 * VeRA on one layer for the methods benchmark (bench/methods.ts): its fused kernels against the same
 * step composed from plain GEMMs. Trainables are drawn at random rather than at their initial
 * values (zeros would make ΔW and several gradients exactly zero and hide errors).
 */
import { randomTensor } from '../../engine/randomTensor';
import { dotCols, dotRows, scaleRowsCols } from '../benchKernels';
import { FlopCounter, uniform, type BenchSetup, type MethodOnLayer } from '../benchTypes';
import { VERA_DEFAULTS, veraBackward, veraBases, veraForward, type VeraLayerParams } from './layer';

const setup: BenchSetup = (ctx, l, seed): MethodOnLayer => {
  const { r } = VERA_DEFAULTS;
  // Bases sized for this layer alone, so the slices A_s, B_s are the whole of vera_A, vera_B.
  const bases = veraBases(ctx, r, { out: l.out, in: l.in }, seed);
  const p: VeraLayerParams = {
    lambdaB: randomTensor(ctx, [l.out], seed, 21, uniform(-1, 1), 'vera_lambda_b'),
    lambdaD: randomTensor(ctx, [r], seed, 22, uniform(-0.2, 0.2), 'vera_lambda_d'),
  };
  return {
    label: `r=${r}`,
    forward: (x, y) => veraForward(x, bases, p, y, { save: true }),
    backward(x, dY, dx, h) {
      const g = veraBackward(x, dY, bases, p, { dx, h });
      h?.release();
      return [g.dLambdaB, g.dLambdaD];
    },
    mergeDense(f, Wm) {
      // ΔW = (diag(λ_b)·B_s·diag(λ_d))·A_s.
      const left = scaleRowsCols(bases.B, p.lambdaB, p.lambdaD);
      f.add(2 * l.out * r);
      f.mm(left, bases.A, { beta: 1, out: Wm, op: 'composed_vera_merge' });
      left.release();
    },
    chainRule(f, G) {
      // Q = G·A_sᵀ (O×r); dλ_b[o] = Σ_k Q[o,k]·B_s[o,k]·λ_d[k]; dλ_d[k] = Σ_o Q[o,k]·B_s[o,k]·λ_b[o].
      const Q = f.mm(G, bases.A, { transB: true, op: 'composed_vera_Q' });
      const dLambdaB = dotRows(Q, bases.B, p.lambdaD);
      const dLambdaD = dotCols(Q, bases.B, p.lambdaB);
      f.add(2 * 3 * l.out * r);
      Q.release();
      return [dLambdaB, dLambdaD];
    },
    release() {
      for (const t of [bases.A, bases.B, p.lambdaB, p.lambdaD]) t.release();
    },
  };
};

export default setup;
