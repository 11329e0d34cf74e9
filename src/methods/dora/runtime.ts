/** DoRA's GPU half: one adapter per layer over layer.ts (it reads the layer's W0 and bias), and its PEFT format. */
import { defineRuntime, releaseTrainables } from '../define';
import type { LayerAdapter, Saved } from '../types';
import type { DoraConfig } from './config';
import { doraBackward, doraForward, doraInit, doraMerge, type DoraSaved } from './layer';
import { DORA_MAGNITUDE_KEY, doraPeft } from './peft';

type Kept = Saved & DoraSaved;

export default defineRuntime<DoraConfig>({
  create(ctx, config, layers, seed) {
    const adapters = new Map<string, LayerAdapter>();
    layers.forEach((shape, index) => {
      if (!shape.base) throw new Error(`DoRA needs the frozen weight of ${shape.module} (TargetLayer.base) to set its magnitudes; build the targets with VisionTransformer.targetLayers`);
      const layer = doraInit(ctx, shape.base.weight, shape.base.bias, seed, index, config);
      const adapter: LayerAdapter<Kept> = {
        module: shape.module,
        shape,
        trainables: [
          { key: 'lora_A.weight', tensor: layer.lora.A, decay: true },
          { key: 'lora_B.weight', tensor: layer.lora.B, decay: true },
          // PEFT trains the magnitude like LoRA's factors; a scaling, so no weight decay here.
          { key: DORA_MAGNITUDE_KEY, tensor: layer.magnitude, decay: false },
        ],
        // y becomes g ⊙ (y − b + s·x·Aᵀ·Bᵀ) + b: it must hold exactly x·W0ᵀ + b.
        rescalesOutput: true,
        forward(x, y) {
          const s = doraForward(x, layer, y);
          return { x, owned: [s.h, s.base, s.norm], ...s };
        },
        backward(s, dY, { dx }) {
          const g = doraBackward(s.x, dY, layer, s, { dx });
          return [g.dA, g.dB, g.dMagnitude];
        },
        merge: () => doraMerge(layer),
      };
      adapters.set(shape.module, adapter);
    });
    return {
      method: 'dora',
      layers: adapters,
      shared: new Map(),
      trainsBackbone: false,
      // Its kernels copy and reduce W0 as f32 (norms, merge), so mixed precision leaves W0 in f32.
      readsFrozenWeights: true,
      release: () => releaseTrainables(adapters.values()),
    };
  },
  peft: doraPeft,
});
