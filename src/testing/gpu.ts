/**
 * Shared setup for GPU tests: one Dawn device per test file (SwiftShader on machines without a
 * GPU), with each launch submitted alone so a failing kernel is named exactly.
 */
import { afterAll, beforeAll } from 'vitest';
import type { GpuContext, KernelLaunch } from '../gpu/context';
import { nodeGpu, type NodeGpu } from '../gpu/node';
import { randomArray } from '../engine/random';

export function useGpu(): () => NodeGpu {
  let gpu: NodeGpu | undefined;
  beforeAll(async () => {
    gpu = await nodeGpu();
    gpu.ctx.checkEachLaunch = true;
  });
  afterAll(() => gpu?.ctx.destroy());
  return () => {
    if (!gpu) throw new Error('GPU not ready: call useGpu() at the top of the test file');
    return gpu;
  };
}

/** Seeded test data, uniform on [-1, 1) unless told otherwise. */
export function testData(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  return randomArray(n, seed, 0xdada, { kind: 'uniform', lo, hi });
}

/** Seeded data already rounded to f32, so a float64 reference sees exactly what the GPU sees. */
export function f32Data(n: number, seed: number): Float64Array {
  return Float64Array.from(Float32Array.from(testData(n, seed)));
}

/**
 * Tolerance for an f32 dot product of length k against a float64 reference, as a fraction of
 * the output's largest magnitude. Rounding in an f32 sum of k terms is bounded by about k·2⁻²⁴
 * times the sum of |terms|, which for our O(1) random inputs is at most √k times the typical
 * output; 4·k·2⁻²⁴ + 1e-6 covers that with margin while any indexing bug gives errors near 1.
 */
export function f32Tolerance(k: number): number {
  return 4 * Math.max(1, k) * 2 ** -24 + 1e-6;
}

/**
 * Runs `fn` with the row reductions of layernorm and cross-entropy on the subgroup path
 * (`subgroups` true) or the plain workgroup-memory path, then restores the context's choice.
 * Asking for subgroups on a device without the feature fails the test rather than quietly
 * testing the plain path twice: SwiftShader under Dawn offers `subgroups` (size 4).
 */
export async function withReductionPath<T>(ctx: GpuContext, subgroups: boolean, fn: () => Promise<T>): Promise<T> {
  const before = ctx.subgroupReductions;
  ctx.subgroupReductions = subgroups;
  if (ctx.subgroupReductions !== subgroups) {
    throw new Error(`this device lacks the WebGPU "subgroups" feature, so the subgroup reductions cannot be tested here`);
  }
  try {
    return await fn();
  } finally {
    ctx.subgroupReductions = before;
  }
}

/**
 * Runs `fn` with every launch on `ctx` also shown to `see` (the launch still runs on the device:
 * an observer, not a stand-in), then puts the context's own launch back.
 */
export async function observeLaunches<T>(ctx: GpuContext, see: (k: KernelLaunch) => void, fn: () => Promise<T>): Promise<T> {
  const launch = ctx.launch;
  const own = Object.prototype.hasOwnProperty.call(ctx, 'launch');
  ctx.launch = function (k: KernelLaunch) {
    see(k);
    launch.call(this, k);
  };
  try {
    return await fn();
  } finally {
    // Back to what it was: an observer's own property, or the class's method.
    if (own) ctx.launch = launch;
    else delete (ctx as { launch?: unknown }).launch;
  }
}
