/** RandLoRA's GPU half: shared bases, one adapter per layer over layer.ts, and its PEFT format. */
import { defineRuntime, releaseTrainables } from '../define';
import type { Tensor } from '../../engine/tensor';
import type { LayerAdapter, Saved } from '../types';
import type { RandLoraConfig } from './config';
import { randloraBackward, randloraBases, randloraBf, randloraForward, randloraForwardMerged, randloraInit, randloraMerge, randloraSharedShape, releaseRandloraBases } from './layer';
import { randloraPeft } from './peft';

interface RandLoraSaved extends Saved {
  deltaW: Tensor | undefined;
  /** Saved by forwardMerged: the layer's dx GEMM ran on W + ΔW, so dY·ΔW is never added here. */
  merged?: boolean;
}

export default defineRuntime<RandLoraConfig>({
  create(ctx, config, layers, seed) {
    const bases = randloraBases(ctx, randloraSharedShape(layers.map((l) => [l.out, l.in] as const), config.r), seed);
    const adapters = new Map<string, LayerAdapter>();
    for (const shape of layers) {
      const layer = randloraInit(ctx, bases, shape.out, shape.in, config.alpha);
      // Bf is frozen: copy it out of the shared basis now (once per layer shape), not in step 1.
      randloraBf(layer);
      adapters.set(shape.module, {
        module: shape.module,
        shape,
        trainables: [
          { key: 'randlora_lambda', tensor: layer.lambda, decay: false },
          { key: 'randlora_gamma', tensor: layer.gamma, decay: false },
        ],
        // The dense path (many rows, see randloraCost) keeps ΔW (O x I) for the backward's dx
        // instead of forming it twice; the factored path's intermediates are cheaper to redo.
        forward(x, y): RandLoraSaved {
          const deltaW = randloraForward(layer, x, y, { keepDeltaW: true });
          return { x, owned: deltaW ? [deltaW] : [], deltaW };
        },
        // Many rows (see randloraStepCost): the layer runs on W + ΔW, and λ/γ come from dYᵀ·x.
        forwardMerged(x, W) {
          const weight = randloraForwardMerged(layer, x, W);
          if (!weight) return undefined;
          const saved: RandLoraSaved = { x, owned: [weight], deltaW: undefined, merged: true };
          return { weight, saved };
        },
        backward(s: RandLoraSaved, dY, { dx }) {
          const g = s.merged
            ? randloraBackward(layer, s.x, dY, { strategy: 'dense' })
            : randloraBackward(layer, s.x, dY, { dx, deltaW: s.deltaW });
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
        releaseTrainables(adapters.values());
        releaseRandloraBases(bases);
      },
    };
  },
  peft: randloraPeft,
});
