import { describe, expect, it } from 'vitest';
import { cellColor, heatmapLayers, shortBlock } from './heatmap';

describe('heatmapLayers', () => {
  it('groups blocks by layer in model order, one cell per task vector, K groups averaged', () => {
    const { layers, maxAbs } = heatmapLayers({
      taskVectors: ['LoRA', 'Full'],
      blocks: ['vit.embeddings.patch_embeddings.projection.weight', 'vit.encoder.layer.0.attention.attention.query.weight', 'vit.encoder.layer.0.output.dense.bias', 'vit.encoder.layer.1.intermediate.dense.weight'],
      layerOf: ['vit.embeddings', 'vit.encoder.layer.0', 'vit.encoder.layer.0', 'vit.encoder.layer.1'],
      groups: 2,
      values: [
        [[0.1, 0.3], [0, 0], [-0.5, 0.1], [1, 1]],
        [[0, 0], [0.2, 0.2], [0.4, 0], [-2, 0]],
      ],
    });
    expect(layers.map((l) => l.layer)).toEqual(['vit.embeddings', 'vit.encoder.layer.0', 'vit.encoder.layer.1']);
    expect(layers[1].blocks.map((b) => b.short)).toEqual(['attention.attention.query.weight', 'output.dense.bias']);
    expect(layers.flatMap((l) => l.blocks).flatMap((b) => b.cells)).toHaveLength(2 * 4);
    expect(layers[0].blocks[0].cells[0].mean).toBeCloseTo(0.2, 12);
    expect(layers[1].blocks[1].cells[0]).toEqual({ mean: -0.2, groups: [-0.5, 0.1] });
    expect(layers[2].blocks[0].cells[1].mean).toBe(-1);
    expect(maxAbs).toBe(2);
  });

  it('names blocks inside their layer and colours by sign and size', () => {
    expect(shortBlock('a.b.c', 'a.b')).toBe('c');
    expect(shortBlock('a.bc', 'a.b')).toBe('a.bc');
    expect(cellColor(1, 2)).toBe('color-mix(in srgb, #d6453d 45%, transparent)');
    expect(cellColor(-2, 2)).toBe('color-mix(in srgb, #3257d6 90%, transparent)');
    expect(cellColor(0, 0)).toBe('color-mix(in srgb, #d6453d 0%, transparent)');
  });
});
