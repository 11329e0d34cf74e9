/**
 * RandLoRA on one layer for the methods benchmark (bench/methods.ts): its fused kernels against the same
 * step composed from plain GEMMs. Trainables are drawn at random rather than at their initial
 * values (zeros would make ΔW and several gradients exactly zero and hide errors).
 */
import { randomTensor } from '../../engine/randomTensor';
import { Tensor } from '../../engine/tensor';
import { randloraMaterialiseS, randloraParamGrads, type RandLoraDims } from '../benchKernels';
import { FlopCounter, uniform, type BenchSetup, type MethodOnLayer } from '../benchTypes';
import { RANDLORA_DEFAULTS, randloraBackward, randloraBases, randloraCost, randloraForward, randloraInit, randloraSharedShape, type RandLoraLayer } from './layer';

const setup: BenchSetup = (ctx, l, seed, T): MethodOnLayer => {
  const { r, alpha } = RANDLORA_DEFAULTS;
  // Shared bases sized for this layer alone: then Bf is randlora_B viewed as (M, nb·r).
  const shared = randloraSharedShape([[l.out, l.in]], r);
  const bases = randloraBases(ctx, shared, seed);
  const init = randloraInit(ctx, bases, l.out, l.in, alpha);
  const { nb, m, M, inputIsMin } = init.shape;
  init.lambda.release();
  init.gamma.release();
  const layer: RandLoraLayer = {
    ...init,
    lambda: randomTensor(ctx, [r, nb], seed, 31, uniform(-0.05, 0.05), 'randlora_lambda'),
    gamma: randomTensor(ctx, [nb, m], seed, 32, uniform(-0.05, 0.05), 'randlora_gamma'),
  };
  if (shared.maxDim !== M || shared.numBases !== nb) throw new Error('RandLoRA bench: shared bases do not match the layer');
  const J = r * nb;
  const Bf = bases.B.reshape([M, J]);
  const dims: RandLoraDims = { r, nb, m, aStride: shared.minDim };
  const s = layer.scale;
  // The ops pick 'factored' or 'dense' by their own cost model ('auto'); say which they took.
  const cost = randloraCost(init.shape, T);
  const pick = (c: { factored: number; dense: number }) => (c.dense < c.factored ? 'dense' : 'factored');
  return {
    label: `r=${r} α=${alpha} nb=${nb}`,
    fusedVariant: `fwd ${pick(cost.forward)}, bwd ${pick(cost.backward)}`,
    forward(x, y) {
      randloraForward(layer, x, y);
      return undefined;
    },
    backward(x, dY, dx) {
      const g = randloraBackward(layer, x, dY, { dx });
      return [g.lambda, g.gamma];
    },
    mergeDense(f, Wm) {
      const S = randloraMaterialiseS(dims, layer.lambda, bases.A, layer.gamma, Tensor.empty(ctx, [J, m], 'composed_randlora_S'));
      f.add(2 * J * m);
      // I ≤ O: ΔW = s·Bf·S. I > O: ΔW = s·(Bf·S)ᵀ = s·Sᵀ·Bfᵀ.
      if (inputIsMin) f.mm(Bf, S, { alpha: s, beta: 1, out: Wm, op: 'composed_randlora_merge' });
      else f.mm(S, Bf, { transA: true, transB: true, alpha: s, beta: 1, out: Wm, op: 'composed_randlora_merge' });
      S.release();
    },
    chainRule(f, G) {
      // dS = s·Bfᵀ·G (I ≤ O) or s·Bfᵀ·Gᵀ (I > O), then the Hadamard chain rule to λ and γ.
      const dS = f.mm(Bf, G, { transA: true, transB: !inputIsMin, alpha: s, op: 'composed_randlora_dS' });
      const g = randloraParamGrads(dims, layer.lambda, bases.A, layer.gamma, dS);
      f.add(2 * 3 * J * m);
      dS.release();
      return [g.dLambda, g.dGamma];
    },
    release() {
      for (const t of [bases.A, bases.B, layer.lambda, layer.gamma]) t.release();
    },
  };
};

export default setup;
