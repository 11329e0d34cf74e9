/**
 * The launch path alone: host time to encode launches of a trivial kernel (a uniform block and
 * three storage buffers, one workgroup each) on buffers that stay the same, as a training step's
 * do after step 1. Nothing runs on the GPU while the encoding is timed (the batch is submitted
 * after), so the figure is the engine's and the driver's host cost per launch, not the shared
 * cores' contention with the GPU's threads.
 */
import type { GpuContext } from '../src/gpu/context';
import { now } from './timing';

const KERNEL = /* wgsl */ `
@group(0) @binding(0) var<uniform> p: vec4<u32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < p.x) { c[g.x] = a[g.x] * b[g.x] + f32(p.y); }
}`;

export interface LaunchPathRow {
  /** Host µs per launch while encoding (median over repetitions). */
  encode_us_per_launch: number;
  /**
   * Process CPU µs (user + system) per launch while encoding: on a loaded machine wall time
   * includes time the process waited for a core; CPU time does not (the GPU is idle meanwhile).
   */
  encode_cpu_us_per_launch: number;
  /** Host µs per launch for the submit at the end of the batch (uniform write, finish, submit). */
  submit_us_per_launch: number;
  launches_per_batch: number;
  repetitions: number;
}

export async function benchLaunchPath(ctx: GpuContext, launchesPerBatch = 400, repetitions = 7): Promise<LaunchPathRow> {
  const n = 64;
  const bufs = Array.from({ length: 6 }, (_, i) => ctx.buffer(4 * n, `launch-path-${i}`));
  for (const b of bufs) ctx.upload(b, new Float32Array(n).fill(1));
  const uniforms = new Uint32Array(4);
  const encodeOnce = () => {
    for (let i = 0; i < launchesPerBatch; i++) {
      // Three different buffer sets, as consecutive ops of a step bind different tensors.
      const j = (i % 3) * 2;
      uniforms[0] = n;
      uniforms[1] = i & 7;
      ctx.launch({
        op: 'launch-path',
        code: KERNEL,
        uniforms,
        bindings: [
          { buffer: bufs[j], access: 'read' },
          { buffer: bufs[(j + 2) % 6], access: 'read' },
          { buffer: bufs[j + 1], access: 'write' },
        ],
        workgroups: [1],
      });
    }
  };
  const encode: number[] = [];
  const encodeCpu: number[] = [];
  const submit: number[] = [];
  try {
    // Warm-up: compiles the pipeline, makes the bind groups.
    encodeOnce();
    await ctx.flush();
    for (let r = 0; r < repetitions; r++) {
      const c0 = process.cpuUsage();
      const t0 = now();
      encodeOnce();
      const t1 = now();
      const c1 = process.cpuUsage(c0);
      ctx.submit();
      const t2 = now();
      await ctx.flush();
      encode.push(((t1 - t0) * 1000) / launchesPerBatch);
      encodeCpu.push((c1.user + c1.system) / launchesPerBatch);
      submit.push(((t2 - t1) * 1000) / launchesPerBatch);
    }
  } finally {
    for (const b of bufs) ctx.release(b);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  return { encode_us_per_launch: median(encode), encode_cpu_us_per_launch: median(encodeCpu), submit_us_per_launch: median(submit), launches_per_batch: launchesPerBatch, repetitions };
}
