/** VeRA's GPU half: shared bases, one adapter per layer over layer.ts, and its PEFT format. */
import type { Tensor } from '../../engine/tensor';
import { defineRuntime, releaseTrainables } from '../define';
import type { LayerAdapter, Saved } from '../types';
import type { VeraConfig } from './config';
import { veraBackward, veraBases, veraForwardMerged, veraForwardSaved, veraInitLayer, veraMerge, veraSharedShape, releaseVeraBases } from './layer';
import { veraPeft } from './peft';

/** The forward keeps h = x·A_sᵀ (factored path) or ΔW (dense path), so the backward does not recompute it. */
interface VeraSaved extends Saved {
  h?: Tensor;
  deltaW?: Tensor;
  /** Saved by forwardMerged: the layer's dx GEMM ran on W + ΔW, so dY·ΔW is never added here. */
  merged?: boolean;
}

export default defineRuntime<VeraConfig>({
  create(ctx, config, layers, seed) {
    const bases = veraBases(ctx, config.r, veraSharedShape(layers), seed);
    const adapters = new Map<string, LayerAdapter>();
    for (const shape of layers) {
      const p = veraInitLayer(ctx, shape.out, config.r, config.dInitial);
      const adapter: LayerAdapter<VeraSaved> = {
        module: shape.module,
        shape,
        trainables: [
          { key: 'vera_lambda_b', tensor: p.lambdaB, decay: false },
          { key: 'vera_lambda_d', tensor: p.lambdaD, decay: false },
        ],
        forward(x, y) {
          // h (N x r) on the factored path, ΔW (O x I) on the dense one (see veraCost).
          const kept = veraForwardSaved(x, bases, p, y);
          return { x, owned: [kept.h, kept.deltaW].filter((t) => t !== undefined), ...kept };
        },
        // Many rows (see veraStepCost): the layer runs on W + ΔW, and λ_b/λ_d come from h = x·A_sᵀ
        // (kept) where r is thin next to the layer, else from dYᵀ·x.
        forwardMerged(x, W) {
          const m = veraForwardMerged(x, W, bases, p);
          if (!m) return undefined;
          return { weight: m.weight, saved: { x, owned: m.h ? [m.weight, m.h] : [m.weight], merged: true, h: m.h } };
        },
        backward(s, dY, { dx }) {
          const g = s.merged
            ? veraBackward(s.x, dY, bases, p, s.h ? { strategy: 'factored', h: s.h } : { strategy: 'dense' })
            : veraBackward(s.x, dY, bases, p, { dx, h: s.h, deltaW: s.deltaW });
          return [g.dLambdaB, g.dLambdaD];
        },
        merge: (W) => veraMerge(W, bases, p),
      };
      adapters.set(shape.module, adapter);
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
        releaseTrainables(adapters.values());
        releaseVeraBases(bases);
      },
    };
  },
  peft: veraPeft,
});
