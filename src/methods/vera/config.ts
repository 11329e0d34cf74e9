import {
  VERA_DEFAULTS,
  veraBackward,
  veraBases,
  veraForward,
  veraInitLayer,
  veraMerge,
  veraSharedShape,
  type VeraConfig,
} from '../engine/ops/vera';
import type { AdapterSet, LayerAdapter, Method } from './types';

/** VeRA (PEFT `tuners/vera`): frozen shared bases, per layer only two scaling vectors train. */
export const vera: Method<VeraConfig> = {
  id: 'vera',
  label: 'VeRA',
  summary: 'Shares one pair of frozen random matrices across layers and trains only two scaling vectors per layer.',
  defaults: VERA_DEFAULTS,
  usesTargets: true,
  countParams: (c, layers) => layers.reduce((n, l) => n + l.out + c.r, 0),
  maxRank: (c, l) => Math.min(c.r, l.in, l.out),
  create(ctx, config, layers, seed): AdapterSet {
    const bases = veraBases(ctx, config.r, veraSharedShape(layers), seed);
    const adapters = new Map<string, LayerAdapter>();
    for (const shape of layers) {
      const p = veraInitLayer(ctx, shape.out, config.r, config.dInitial);
      adapters.set(shape.module, {
        module: shape.module,
        shape,
        trainables: [
          { key: 'vera_lambda_b', tensor: p.lambdaB, decay: false },
          { key: 'vera_lambda_d', tensor: p.lambdaD, decay: false },
        ],
        forward: (x, y) => void veraForward(x, bases, p, y),
        backward(x, dY, dx) {
          const g = veraBackward(x, dY, bases, p, { dx });
          return [g.dLambdaB, g.dLambdaD];
        },
        merge: (W) => veraMerge(W, bases, p),
      });
    }
    return {
      method: 'vera',
      layers: adapters,
      shared: new Map([
        ['vera_A', bases.A],
        ['vera_B', bases.B],
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
