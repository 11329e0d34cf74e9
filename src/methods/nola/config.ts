import {
  NOLA_DEFAULTS,
  nolaBackward,
  nolaBases,
  nolaFactors,
  nolaForward,
  nolaInitCoefficients,
  nolaMerge,
  releaseNolaBases,
  releaseNolaFactors,
  type NolaBases,
  type NolaConfig,
  type NolaFactors,
  type NolaLayer,
} from '../engine/ops/nola';
import type { Tensor } from '../engine/tensor';
import type { AdapterSet, LayerAdapter, Method } from './types';

/**
 * NOLA: LoRA factors mixed from frozen random bases; only the mixing coefficients train. We start
 * from β = 0 ('zero-beta') so every method begins at the pretrained model, which the comparison
 * needs; NOLA's own code starts at α = 1/ka, β = 1/kb (a tiny non-zero ΔW), still selectable.
 */
export const nola: Method<NolaConfig> = {
  id: 'nola',
  label: 'NOLA',
  summary: 'Builds rank-r LoRA factors as mixtures of frozen random bases and trains only the mixing coefficients.',
  defaults: { ...NOLA_DEFAULTS, init: 'zero-beta' },
  usesTargets: true,
  countParams: (c, layers) => layers.length * (c.ka + c.kb),
  maxRank: (c, l) => Math.min(c.rank, l.in, l.out),
  create(ctx, config, layers, seed): AdapterSet {
    // Layers of one shape share bases (as NOLA's code does by reseeding each layer alike): memory
    // grows with the number of distinct shapes, not of layers.
    const basesByShape = new Map<string, NolaBases>();
    const adapters = new Map<string, LayerAdapter>();
    for (const shape of layers) {
      const layer: NolaLayer = { ...config, I: shape.in, O: shape.out, seed };
      const key = `${shape.out}x${shape.in}`;
      let bases = basesByShape.get(key);
      if (!bases) basesByShape.set(key, (bases = nolaBases(ctx, layer)));
      const b = bases;
      const { alpha, beta } = nolaInitCoefficients(ctx, config);
      // The mixed factors depend only on α and β, so they are made once per forward and reused by
      // the backward that follows it.
      let factors: NolaFactors | undefined;
      const fresh = () => {
        if (factors) releaseNolaFactors(factors);
        factors = nolaFactors(layer, b, alpha, beta);
        return factors;
      };
      adapters.set(shape.module, {
        module: shape.module,
        shape,
        trainables: [
          { key: 'nola_alpha', tensor: alpha, decay: false },
          { key: 'nola_beta', tensor: beta, decay: false },
        ],
        forward: (x, y) => void nolaForward(layer, fresh(), x, y),
        backward(x, dY, dx) {
          const g = nolaBackward(layer, b, factors ?? fresh(), x, dY, { dx });
          return [g.dAlpha, g.dBeta];
        },
        merge: (W) => nolaMerge(layer, fresh(), W),
      });
    }
    const shared = new Map<string, Tensor>();
    for (const [key, bases] of basesByShape) {
      if (bases.a.tensor) shared.set(`nola_A_bases.${key}`, bases.a.tensor);
      if (bases.b.tensor) shared.set(`nola_B_bases.${key}`, bases.b.tensor);
    }
    return {
      method: 'nola',
      layers: adapters,
      shared,
      trainsBackbone: false,
      release() {
        for (const a of adapters.values()) for (const t of a.trainables) t.tensor.release();
        for (const bases of basesByShape.values()) releaseNolaBases(bases);
      },
    };
  },
};
