import { describe, expect, it } from 'vitest';
import { gatherBatch, processorInput, resizeTarget, squarePlan, workingEdge, workingSize, type PackedImages, type ProcessorPlan } from './data';

const clip: ProcessorPlan = { resize: { shortestEdge: 224 }, centerCrop: { height: 224, width: 224 }, resample: 3, inputSize: { height: 224, width: 224 } };

describe('batch making from working-size images', () => {
  it('sizes as transformers does: shortest edge with int() truncation, fixed sizes as given', () => {
    expect(resizeTarget(clip, 3000, 4000)).toEqual({ width: 224, height: 298 });
    expect(resizeTarget(clip, 4000, 3000)).toEqual({ width: 298, height: 224 });
    expect(resizeTarget(squarePlan(32), 4000, 3000)).toEqual({ width: 32, height: 32 });
    expect(workingEdge(clip)).toBe(224);
    expect(workingEdge({ ...clip, resize: { height: 256, width: 256 } })).toBe(256);
    // Never enlarged; aspect kept.
    expect(workingSize(28, 28, 224)).toEqual({ width: 28, height: 28 });
    expect(workingSize(4000, 3000, 224)).toEqual({ width: 298, height: 224 });
  });

  it("center-crops at transformers' offsets ((size − crop) // 2)", () => {
    const img = { data: Uint8Array.from({ length: 5 * 4 }, (_, i) => i), width: 5, height: 4, channels: 1 };
    const plan: ProcessorPlan = { resize: null, centerCrop: { height: 2, width: 2 }, resample: 2, inputSize: { height: 2, width: 2 } };
    expect(Array.from(processorInput(img, plan).data)).toEqual([6, 7, 11, 12]);
  });

  it('expands grey images to RGB in a mixed set and writes labels', () => {
    const set: PackedImages = {
      count: 2,
      channels: 3,
      images: [
        { data: Uint8Array.of(10, 20, 30, 40), width: 2, height: 2, channels: 1 },
        { data: Uint8Array.from({ length: 12 }, (_, i) => i), width: 2, height: 2, channels: 3 },
      ],
      labels: Int32Array.of(4, 7),
      classNames: [],
    };
    const out = new Uint8Array(2 * 12);
    const labels = new Int32Array(2);
    gatherBatch(set, [0, 1], out, labels, { plan: squarePlan(2) });
    expect(Array.from(out.subarray(0, 12))).toEqual([10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]);
    expect(Array.from(out.subarray(12))).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(Array.from(labels)).toEqual([4, 7]);
  });
});
