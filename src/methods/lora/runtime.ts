/** LoRA's GPU half: one adapter per layer over the kernels of layer.ts, and its PEFT format. */
import type { Tensor } from '../../engine/tensor';
import { defineRuntime, releaseTrainables } from '../define';
import type { LayerAdapter, Saved } from '../types';
import type { LoraConfig } from './config';
import { loraBackward, loraForward, loraInit, loraMerge } from './layer';
import { loraPeft } from './peft';

/** The forward keeps h = x·Aᵀ, so the backward does not recompute it. */
interface LoraSaved extends Saved {
  h: Tensor;
}

export default defineRuntime<LoraConfig>({
  create(ctx, config, layers, seed) {
    const adapters = new Map<string, LayerAdapter>();
    layers.forEach((shape, index) => {
      const p = loraInit(ctx, shape, seed, index, config);
      const adapter: LayerAdapter<LoraSaved> = {
        module: shape.module,
        shape,
        trainables: [
          { key: 'lora_A.weight', tensor: p.A, decay: true },
          { key: 'lora_B.weight', tensor: p.B, decay: true },
        ],
        forward(x, y) {
          const h = loraForward(x, p, y, { save: true });
          return { x, owned: [h], h };
        },
        backward(s, dY, { dx }) {
          const g = loraBackward(s.x, dY, p, { dx, h: s.h });
          return [g.dA, g.dB];
        },
        merge: (W) => loraMerge(W, p),
      };
      adapters.set(shape.module, adapter);
    });
    return {
      method: 'lora',
      layers: adapters,
      shared: new Map(),
      trainsBackbone: false,
      release: () => releaseTrainables(adapters.values()),
    };
  },
  peft: loraPeft,
});
