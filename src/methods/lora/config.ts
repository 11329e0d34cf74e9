import { LORA_DEFAULTS, loraBackward, loraForward, loraInit, loraMerge, type LoraConfig } from '../engine/ops/lora';
import type { AdapterSet, LayerAdapter, Method, TargetLayer } from './types';

/** LoRA (PEFT `tuners/lora`): ΔW = s·B·A with A (r, in), B (out, r); B starts at 0. */
export const lora: Method<LoraConfig> = {
  id: 'lora',
  label: 'LoRA',
  summary: 'Trains two thin matrices B·A per layer, so each update has rank at most r.',
  defaults: LORA_DEFAULTS,
  usesTargets: true,
  countParams: (c, layers) => layers.reduce((n, l) => n + c.r * (l.in + l.out), 0),
  maxRank: (c, l) => Math.min(c.r, l.in, l.out),
  create(ctx, config, layers, seed): AdapterSet {
    const adapters = new Map<string, LayerAdapter>();
    layers.forEach((shape: TargetLayer, index) => {
      const p = loraInit(ctx, shape, seed, index, config);
      adapters.set(shape.module, {
        module: shape.module,
        shape,
        trainables: [
          { key: 'lora_A.weight', tensor: p.A, decay: true },
          { key: 'lora_B.weight', tensor: p.B, decay: true },
        ],
        forward: (x, y) => void loraForward(x, p, y),
        backward(x, dY, dx) {
          const g = loraBackward(x, dY, p, { dx });
          return [g.dA, g.dB];
        },
        merge: (W) => loraMerge(W, p),
      });
    });
    return {
      method: 'lora',
      layers: adapters,
      shared: new Map(),
      trainsBackbone: false,
      release() {
        for (const a of adapters.values()) for (const t of a.trainables) t.tensor.release();
      },
    };
  },
};
