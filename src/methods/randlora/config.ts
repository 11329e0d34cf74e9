import {
  RANDLORA_DEFAULTS,
  randloraBackward,
  randloraBases,
  randloraInit,
  randloraLayerShape,
  randloraMerge,
  randloraForward,
  randloraParamCount,
  randloraSharedShape,
} from '../engine/ops/randlora';
import type { AdapterSet, LayerAdapter, Method } from './types';

export interface RandLoraConfig {
  r: number;
  alpha: number;
}

/**
 * RandLoRA (PEFT `tuners/randlora`): one pair of shared frozen random bases; per layer only the
 * diagonal scalings λ and γ train, yet the update ΔW = s·Bf·S has full rank.
 */
export const randlora: Method<RandLoraConfig> = {
  id: 'randlora',
  label: 'RandLoRA',
  summary: 'Combines frozen random low-rank bases through trained diagonal scalings, so the update is full rank with few parameters.',
  defaults: { r: RANDLORA_DEFAULTS.r, alpha: RANDLORA_DEFAULTS.alpha },
  usesTargets: true,
  countParams: (c, layers) => layers.reduce((n, l) => n + randloraParamCount(l.out, l.in, c.r), 0),
  // r·nb ≥ m basis directions span the whole of the smaller side.
  maxRank: (c, l) => Math.min(l.in, l.out, c.r * randloraLayerShape(l.out, l.in, c.r).nb),
  create(ctx, config, layers, seed): AdapterSet {
    const bases = randloraBases(ctx, randloraSharedShape(layers.map((l) => [l.out, l.in] as const), config.r), seed);
    const adapters = new Map<string, LayerAdapter>();
    for (const shape of layers) {
      const layer = randloraInit(ctx, bases, shape.out, shape.in, config.alpha);
      adapters.set(shape.module, {
        module: shape.module,
        shape,
        trainables: [
          { key: 'randlora_lambda', tensor: layer.lambda, decay: false },
          { key: 'randlora_gamma', tensor: layer.gamma, decay: false },
        ],
        forward: (x, y) => randloraForward(layer, x, y),
        backward(x, dY, dx) {
          const g = randloraBackward(layer, x, dY, { dx });
          return [g.lambda, g.gamma];
        },
        merge: (W) => randloraMerge(layer, W),
      });
    }
    return {
      method: 'randlora',
      layers: adapters,
      shared: new Map([
        ['randlora_A', bases.A],
        ['randlora_B', bases.B],
      ]),
      trainsBackbone: false,
      release() {
        for (const a of adapters.values()) for (const t of a.trainables) t.tensor.release();
        bases.A.release();
        bases.B.release();
      },
    };
  },
};
