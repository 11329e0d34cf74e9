/**
 * The learned aTLAS coefficients shaped for the heatmap: blocks (parameter tensors) grouped by the
 * layer they belong to, in the order the model has them, one cell per task vector. Under aTLAS×K a
 * cell shows the mean of its K group coefficients and keeps them for its tooltip.
 */
import type { ComposeOutcome } from '../../session/composeTypes';

export interface HeatmapCell {
  mean: number;
  groups: number[];
}

export interface HeatmapBlock {
  block: string;
  /** The block's name inside its layer ("attention.attention.query.weight"). */
  short: string;
  cells: HeatmapCell[];
}

export interface HeatmapLayer {
  layer: string;
  blocks: HeatmapBlock[];
}

export function shortBlock(block: string, layer: string): string {
  return layer && block.startsWith(`${layer}.`) ? block.slice(layer.length + 1) : block;
}

export function heatmapLayers(c: ComposeOutcome['coefficients']): { layers: HeatmapLayer[]; maxAbs: number } {
  const layers: HeatmapLayer[] = [];
  const byName = new Map<string, HeatmapLayer>();
  let maxAbs = 0;
  c.blocks.forEach((block, b) => {
    const layer = c.layerOf[b] ?? '';
    let l = byName.get(layer);
    if (!l) {
      l = { layer, blocks: [] };
      byName.set(layer, l);
      layers.push(l);
    }
    const cells = c.taskVectors.map((_, t) => {
      const groups = c.values[t]?.[b] ?? [];
      const mean = groups.length ? groups.reduce((a, v) => a + v, 0) / groups.length : 0;
      for (const v of groups) maxAbs = Math.max(maxAbs, Math.abs(v));
      return { mean, groups: [...groups] };
    });
    l.blocks.push({ block, short: shortBlock(block, layer), cells });
  });
  return { layers, maxAbs };
}

/** A diverging colour: red for positive λ, blue for negative, stronger with |λ| relative to the largest. */
export function cellColor(v: number, maxAbs: number): string {
  const share = maxAbs > 0 ? Math.min(1, Math.abs(v) / maxAbs) : 0;
  const hue = v >= 0 ? '#d6453d' : '#3257d6';
  return `color-mix(in srgb, ${hue} ${Math.round(share * 90)}%, transparent)`;
}
