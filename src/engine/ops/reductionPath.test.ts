/**
 * The reduction path the GPU dialog reports is the one the ops run: the summary is checked against
 * the WGSL that layernorm and cross-entropy actually launch, on both paths, and on a device made
 * without the `subgroups` feature.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { GpuContext, type KernelLaunch } from '../../gpu/context';
import { observeLaunches, useGpu, testData, withReductionPath } from '../../testing/gpu';
import { Tensor } from '../tensor';
import { crossEntropy, labelTensor } from './crossEntropy';
import { layerNorm, layerNormBackward } from './layernorm';
import { reductionPath } from './reductionPath';

const gpu = useGpu();

/** The op names each launch gave, with whether its kernel enables subgroups, for one layernorm (fwd + bwd) and one cross-entropy. */
async function launchedKernels(ctx: GpuContext, cols: number): Promise<Map<string, boolean>> {
  const seen = new Map<string, boolean>();
  const see = (k: KernelLaunch) => {
    if (k.op.startsWith('layernorm') || k.op === 'cross_entropy') seen.set(k.op, (seen.get(k.op) ?? false) || /\benable subgroups;/.test(k.code));
  };
  const made: Tensor[] = [];
  const t = (shape: number[], data: ArrayLike<number>) => {
    const x = Tensor.from(ctx, shape, Float32Array.from(data));
    made.push(x);
    return x;
  };
  try {
    await observeLaunches(ctx, see, async () => {
      const rows = 3;
      const x = t([rows, cols], testData(rows * cols, 1));
      const w = t([cols], testData(cols, 2, 0.5, 1.5));
      const b = t([cols], testData(cols, 3));
      const fwd = layerNorm(x, w, b, 1e-5);
      const back = layerNormBackward(t([rows, cols], testData(rows * cols, 4)), x, w, fwd);
      const ce = crossEntropy(t([4, 5], testData(20, 5)), labelTensor(ctx, [0, 4, 2, -1], 5));
      await ctx.readF32(ce.stats.buffer, 8);
      for (const r of [fwd.y, fwd.mean, fwd.rstd, ce.losses, ce.predictions, ce.stats, ce.dlogits, ...Object.values(back)]) {
        if (r instanceof Tensor) r.release();
      }
    });
  } finally {
    for (const x of made) x.release();
  }
  return seen;
}

describe('reductionPath', () => {
  it('reports the subgroup path for layernorm and cross-entropy where the device has subgroups, as their kernels show', async () => {
    const { ctx } = gpu();
    await withReductionPath(ctx, true, async () => {
      const s = reductionPath(ctx);
      expect(s.path).toBe('subgroup');
      expect(s.ops).toEqual(['layernorm', 'cross-entropy']);
      expect(s.reason).toBeUndefined();
      // Wide rows: the layernorm kernels that reduce across lanes enable subgroups, and so does cross-entropy.
      const wide = await launchedKernels(ctx, s.layerNormOneLaneCols + 44);
      expect(wide.get('cross_entropy')).toBe(true);
      expect([...wide].filter(([op]) => op.startsWith('layernorm')).some(([, sub]) => sub)).toBe(true);
      // Rows short enough for one invocation each take neither path, as the help text says.
      const narrow = await launchedKernels(ctx, 48);
      expect([...narrow].filter(([op]) => op.startsWith('layernorm')).every(([, sub]) => !sub)).toBe(true);
    });
  });

  it('reports the workgroup path, switched off, when the context keeps the plain reductions', async () => {
    const { ctx } = gpu();
    await withReductionPath(ctx, false, async () => {
      const s = reductionPath(ctx);
      expect(s).toMatchObject({ path: 'workgroup', ops: [], reason: 'switched-off' });
      const seen = await launchedKernels(ctx, s.layerNormOneLaneCols + 44);
      expect(seen.size).toBeGreaterThan(1);
      expect([...seen.values()].every((sub) => !sub)).toBe(true);
    });
  });

  describe('on a device made without the subgroups feature', () => {
    let plain: GpuContext | undefined;
    afterAll(() => plain?.destroy());

    it('reports the workgroup path because the GPU lacks the feature', async () => {
      // A second device from a fresh adapter, asking for no optional features (the first device's adapter is spent).
      const webgpu = (await import('webgpu')) as unknown as { create: (flags: string[]) => GPU };
      const instance = webgpu.create([]);
      keep.push(instance);
      const adapter = await instance.requestAdapter();
      if (!adapter) throw new Error('Dawn offered no second adapter');
      plain = new GpuContext(await adapter.requestDevice());
      expect(plain.device.features.has('subgroups')).toBe(false);
      plain.subgroupReductions = true;
      expect(reductionPath(plain)).toMatchObject({ path: 'workgroup', ops: [], reason: 'no-feature' });
    });
  });
});

// Dawn crashes if a create() result is collected while its devices live (see src/gpu/node.ts).
const keep: unknown[] = [];
