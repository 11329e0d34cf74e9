/** NOLA's GPU half: bases per distinct layer shape, one adapter per layer over layer.ts, and its own format. */
import type { Tensor } from '../../engine/tensor';
import { defineRuntime, releaseTrainables } from '../define';
import type { LayerAdapter, Saved } from '../types';
import type { NolaConfig } from './config';
import {
  nolaBackward,
  nolaBases,
  nolaFactors,
  nolaForward,
  nolaInitCoefficients,
  nolaMerge,
  releaseNolaBases,
  releaseNolaFactors,
  type NolaBases,
  type NolaFactors,
  type NolaLayer,
} from './layer';
import { nolaFormat } from './peft';

/** The mixed factors A, B depend only on α and β: made once per forward and kept, with x·A, for its backward. */
interface NolaSaved extends Saved {
  factors: NolaFactors;
  xA: Tensor;
}

export default defineRuntime<NolaConfig>({
  create(ctx, config, layers, seed) {
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
      const adapter: LayerAdapter<NolaSaved> = {
        module: shape.module,
        shape,
        trainables: [
          { key: 'nola_alpha', tensor: alpha, decay: false },
          { key: 'nola_beta', tensor: beta, decay: false },
        ],
        forward(x, y) {
          const factors = nolaFactors(layer, b, alpha, beta);
          const xA = nolaForward(layer, factors, x, y, true)!;
          return { x, owned: [factors.A, factors.B, xA], factors, xA };
        },
        backward(s, dY, { dx }) {
          const g = nolaBackward(layer, b, s.factors, s.x, dY, { dx, xA: s.xA });
          return [g.dAlpha, g.dBeta];
        },
        merge(W) {
          const factors = nolaFactors(layer, b, alpha, beta);
          const merged = nolaMerge(layer, factors, W);
          releaseNolaFactors(factors);
          return merged;
        },
      };
      adapters.set(shape.module, adapter);
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
        releaseTrainables(adapters.values());
        for (const bases of basesByShape.values()) releaseNolaBases(bases);
      },
    };
  },
  own: nolaFormat,
});
