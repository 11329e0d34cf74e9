/**
 * NOLA on one layer for the methods benchmark (bench/methods.ts): its fused kernels against the same
 * step composed from plain GEMMs. Trainables are drawn at random rather than at their initial
 * values (zeros would make ΔW and several gradients exactly zero and hide errors).
 */
import { randomTensor } from '../../engine/randomTensor';
import type { Tensor } from '../../engine/tensor';
import { FlopCounter, uniform, type BenchSetup, type MethodOnLayer } from '../benchTypes';
import { NOLA_DEFAULTS, nolaBackward, nolaBases, nolaFactors, nolaForward, nolaScale, releaseNolaBases, releaseNolaFactors, type NolaLayer } from './layer';

const setup: BenchSetup = (ctx, l, seed): MethodOnLayer => {
  const layer: NolaLayer = { ...NOLA_DEFAULTS, I: l.in, O: l.out, seed };
  const { rank, ka, kb } = layer;
  const bases = nolaBases(ctx, layer, true);
  const Aall = bases.a.tensor!;
  const Ball = bases.b.tensor!;
  const alpha = randomTensor(ctx, [ka], seed, 41, uniform(-1, 1), 'nola_alpha');
  const beta = randomTensor(ctx, [kb], seed, 42, uniform(-1, 1), 'nola_beta');
  const s = nolaScale(layer);
  let mixed: { A: Tensor; B: Tensor } | undefined;
  let factors: ReturnType<typeof nolaFactors> | undefined;
  return {
    label: `rank=${rank} ka=${ka} kb=${kb}`,
    forward(x, y) {
      // The mixed factors are made once per step, as training does.
      factors = nolaFactors(layer, bases, alpha, beta);
      return nolaForward(layer, factors, x, y, true);
    },
    backward(x, dY, dx, xA) {
      const g = nolaBackward(layer, bases, factors!, x, dY, { dx, xA });
      xA?.release();
      releaseNolaFactors(factors!);
      factors = undefined;
      return [g.dAlpha, g.dBeta];
    },
    mergeDense(f, Wm) {
      // A = Σ α_i A_i and B = Σ β_j B_j as (1×k)·(k×E) GEMMs; ΔW = s·Bᵀ·Aᵀ.
      const A = f.mm(alpha.reshape([1, ka]), Aall, { op: 'composed_nola_mix_A' }).reshape([l.in, rank]);
      const B = f.mm(beta.reshape([1, kb]), Ball, { op: 'composed_nola_mix_B' }).reshape([rank, l.out]);
      f.mm(B, A, { transA: true, transB: true, alpha: s, beta: 1, out: Wm, op: 'composed_nola_merge' });
      mixed = { A, B };
    },
    chainRule(f, G) {
      const { A, B } = mixed!;
      // ΔWᵀ = s·A·B: dA = s·Gᵀ·Bᵀ (I×rank), dB = s·Aᵀ·Gᵀ (rank×O), then dα = A_all·vec(dA), dβ = B_all·vec(dB).
      const dA = f.mm(G, B, { transA: true, transB: true, alpha: s, op: 'composed_nola_dA' });
      const dB = f.mm(A, G, { transA: true, transB: true, alpha: s, op: 'composed_nola_dB' });
      const dAlpha = f.mm(Aall, dA.reshape([l.in * rank, 1]), { op: 'composed_nola_dalpha' });
      const dBeta = f.mm(Ball, dB.reshape([rank * l.out, 1]), { op: 'composed_nola_dbeta' });
      for (const t of [dA, dB, A, B]) t.release();
      mixed = undefined;
      return [dAlpha, dBeta];
    },
    release() {
      releaseNolaBases(bases);
      alpha.release();
      beta.release();
    },
  };
};

export default setup;
