/**
 * What a finished run's weights say, layer by layer, for every targeted layer: the ΔW spectrum's
 * ranks and the intruder dimensions of W0 + ΔW against W0 (intruders.ts). Run at the end of
 * every run by the session and the CLI, and read by studies.
 *
 * ΔW is read back as the rank chart does (rank.ts): merge(W0) − W0 for an adapter, the weight's
 * drift from a copy taken before training for full fine-tuning (`snapshotWeights`).
 */
import { copy } from '../engine/ops/elementwise';
import type { Tensor } from '../engine/tensor';
import type { VisionTransformer } from '../models/vision';
import { cachedLeftBasis, INTRUDER_EPSILON, INTRUDER_TOP_K, layerIntruders, totalIntruders, type LayerIntruders } from './intruders';
import { adapterDelta, spectrumOf, weightDelta } from './rank';
import type { Trainer } from './trainer';

export interface LayerRanks {
  module: string;
  numerical: number;
  effective: number;
  stable: number;
}

export interface LayerAnalysis {
  /** Intruder dimensions at ε = 0.5 (INTRUDER_EPSILON), summed over targeted layers. */
  intruders: number;
  intruders_per_layer: LayerIntruders[];
  /** Mean over targeted layers of ΔW's numerical rank (0 where nothing changed or no layer was targeted). */
  rank_numerical: number;
  /** Mean over targeted layers of ΔW's effective rank. */
  rank_effective: number;
  layer_ranks: LayerRanks[];
}

/** The targeted layers whose ΔW a run has: the adapted ones, or the targets of full fine-tuning. */
export function analysedModules(trainer: Trainer): string[] {
  if (trainer.adapters.layers.size) return [...trainer.adapters.layers.keys()];
  if (trainer.adapters.trainsBackbone) return trainer.model.targetLayers(trainer.config.targets).map((l) => l.module);
  return [];
}

/** Copies of the weights that will train (full fine-tuning), taken before training; the caller releases them. */
export function snapshotWeights(model: VisionTransformer, modules: readonly string[]): Map<string, Tensor> {
  return new Map(modules.map((m) => [m, copy(model.param(`${m}.weight`))]));
}

export function releaseSnapshot(s: Map<string, Tensor> | undefined): void {
  for (const t of s?.values() ?? []) t.release();
}

/**
 * Ranks and intruders of every targeted layer. `initial` holds W0 for full fine-tuning; `cacheOwner`
 * (the loaded checkpoint) keys the cache of W0's SVD, shared by every run on that base.
 */
export async function analyseLayers(trainer: Trainer, options: { initial?: Map<string, Tensor>; cacheOwner?: object; k?: number } = {}): Promise<LayerAnalysis> {
  const perLayer: LayerIntruders[] = [];
  const ranks: LayerRanks[] = [];
  const owner = options.cacheOwner ?? trainer.model;
  for (const module of analysedModules(trainer)) {
    const W = trainer.model.param(`${module}.weight`);
    const adapter = trainer.adapters.layers.get(module);
    const start = options.initial?.get(module);
    let delta: Float32Array;
    let W0: Float32Array;
    if (adapter) {
      // W0 as loaded, also when the run stores it in f16 (mixed precision).
      delta = await trainer.model.withF32Weight(`${module}.weight`, (W32) => adapterDelta(adapter, W32));
      W0 = await trainer.model.readF32(`${module}.weight`);
    } else if (start) {
      delta = await weightDelta(W, start);
      W0 = await start.read();
    } else continue;
    const rows = W.rows;
    const cols = W.cols;
    const s = spectrumOf(module, delta, rows, cols);
    ranks.push({ module, numerical: s.numericalRank, effective: s.effectiveRank, stable: s.stableRank });
    const W1 = new Float64Array(W0.length);
    for (let i = 0; i < W1.length; i++) W1[i] = W0[i] + delta[i];
    const base = await cachedLeftBasis(owner, module, () => W0, rows, cols);
    perLayer.push(layerIntruders(module, W0, W1, rows, cols, options.k ?? INTRUDER_TOP_K, base));
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    intruders: totalIntruders(perLayer, INTRUDER_EPSILON),
    intruders_per_layer: perLayer,
    rank_numerical: mean(ranks.map((r) => r.numerical)),
    rank_effective: mean(ranks.map((r) => r.effective)),
    layer_ranks: ranks,
  };
}
