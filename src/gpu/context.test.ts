import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeGpu, type NodeGpu } from './node';
import { GpuMemoryLimitError, GpuValidationError } from './errors';
import { BufferPool } from './bufferPool';
import { specialise } from './specialise';

let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await nodeGpu();
});
afterAll(() => gpu?.ctx.destroy());

const ADD_ONE = /* wgsl */ `
@group(0) @binding(0) var<uniform> p: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < p.x) { x[g.x] = x[g.x] + \${ADD}; }
}`;

describe('GpuContext', () => {
  it('runs a specialised kernel and reads the result back', async () => {
    const { ctx } = gpu;
    const buf = ctx.buffer(4 * 100);
    ctx.upload(buf, Float32Array.from({ length: 100 }, (_, i) => i));
    const code = specialise(ADD_ONE, { ADD: '2.5' });
    ctx.launch({ op: 'add', code, uniforms: new Uint32Array([100, 0, 0, 0]), bindings: [{ buffer: buf, access: 'write' }], workgroups: [2] });
    ctx.launch({ op: 'add', code, uniforms: new Uint32Array([50, 0, 0, 0]), bindings: [{ buffer: buf, access: 'write' }], workgroups: [1] });
    const out = await ctx.readF32(buf, 100);
    expect(out[0]).toBe(5);
    expect(out[49]).toBe(54);
    expect(out[50]).toBe(52.5);
    expect(out[99]).toBe(101.5);
    expect(ctx.pipelines.size).toBe(1);
    ctx.release(buf);
  });

  it('turns a bad kernel into a typed error naming the op and shapes', async () => {
    const { ctx } = gpu;
    const buf = ctx.buffer(16);
    ctx.launch({
      op: 'broken',
      shapes: { x: [4] },
      code: 'this is not wgsl',
      bindings: [{ buffer: buf, access: 'write' }],
      workgroups: [1],
    });
    const err = await ctx.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuValidationError);
    expect((err as Error).message).toContain('"broken"');
    expect((err as Error).message).toContain('x=[4]');
    ctx.release(buf);
  });

  it('uses subgroup reductions only where the device has subgroups, and can be switched to the plain path', () => {
    const { ctx, device } = gpu;
    const has = device.features.has('subgroups');
    const forcedOff = /^(0|false|off|no)$/i.test(process.env.RANKSCOPE_SUBGROUPS ?? '');
    expect(ctx.subgroupReductions).toBe(has && !forcedOff);
    ctx.subgroupReductions = false;
    expect(ctx.subgroupReductions).toBe(false);
    ctx.subgroupReductions = true;
    expect(ctx.subgroupReductions).toBe(has);
    ctx.subgroupReductions = has && !forcedOff;
  });

  it('measures kernels with timestamp queries when the feature exists', async () => {
    const { ctx, device } = gpu;
    if (!device.features.has('timestamp-query')) return;
    expect(ctx.enableProfiling()).toBe(true);
    const buf = ctx.buffer(4 * 64);
    const code = specialise(ADD_ONE, { ADD: '1.0' });
    ctx.launch({ op: 'timed', code, uniforms: new Uint32Array([64, 0, 0, 0]), bindings: [{ buffer: buf, access: 'write' }], workgroups: [1] });
    await ctx.flush();
    const row = ctx.profiler!.report().find((r) => r.op === 'timed');
    expect(row?.count).toBe(1);
    ctx.release(buf);
  });
});

describe('BufferPool', () => {
  it('rounds sizes into buckets that waste at most an eighth', () => {
    for (const n of [1, 100, 4097, 10_000, 1_000_003]) {
      const b = BufferPool.bucket(n);
      expect(b).toBeGreaterThanOrEqual(n);
      if (n > 4096) expect(b / n).toBeLessThanOrEqual(1.125 + 1e-9);
    }
  });

  it('hands a released buffer back out instead of allocating', () => {
    const { ctx } = gpu;
    const a = ctx.buffer(1000);
    ctx.release(a);
    const b = ctx.buffer(990);
    expect(b).toBe(a);
    ctx.release(b);
  });

  it('hands out the same buffers in the same order whatever order they came back in (stable bind groups)', () => {
    const { ctx } = gpu;
    const take = () => [ctx.buffer(3000), ctx.buffer(3000), ctx.buffer(3000)];
    const first = take();
    for (const order of [[2, 0, 1], [1, 2, 0], [0, 1, 2]]) {
      for (const i of order) ctx.release(first[i]);
      const again = take();
      expect(again).toEqual(first);
      expect(again.every((b, i) => b === first[i])).toBe(true);
    }
    for (const b of first) ctx.release(b);
  });
});

describe('specialise', () => {
  it('keeps #if branches by value and rejects unknown placeholders', () => {
    const src = 'a\n#if ${X}\nb ${N}\n#else\nc\n#endif\nd';
    expect(specialise(src, { X: true, N: 3 }).replace(/\s+/g, ' ').trim()).toBe('a b 3 d');
    expect(specialise(src, { X: false, N: 3 }).replace(/\s+/g, ' ').trim()).toBe('a c d');
    expect(() => specialise('${Y}', {})).toThrow(/Y/);
  });
});

describe('GpuContext ordering', () => {
  it('an upload into a recycled buffer does not overtake launches recorded before it', async () => {
    const { ctx } = gpu;
    // Buffers earlier tests left in the pool (and their groups) go first, so `a` is a new buffer.
    ctx.pool.trim();
    const a = ctx.buffer(4 * 64);
    const b = ctx.buffer(4 * 64);
    ctx.upload(a, new Float32Array(64).fill(1));
    await ctx.flush();
    const copyOut = `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) { dst[g.x] = src[g.x]; }`;
    // Recorded, not yet submitted: reads a.
    ctx.launch({ op: 'copy', code: copyOut, bindings: [{ buffer: a, access: 'read' }, { buffer: b, access: 'write' }], workgroups: [1] });
    // a is recycled and overwritten; the copy above must still see the ones.
    ctx.release(a);
    const a2 = ctx.buffer(4 * 64);
    expect(a2).toBe(a);
    ctx.upload(a2, new Float32Array(64).fill(7));
    const out = await ctx.readF32(b, 64);
    expect(out[0]).toBe(1);
    expect(out[63]).toBe(1);
    ctx.release(a2);
    ctx.release(b);
  });
});

describe('profiling across uploads', () => {
  it('keeps timing when an upload submits between launches', async () => {
    const { ctx, device } = gpu;
    if (!device.features.has('timestamp-query')) return;
    ctx.enableProfiling();
    const code = specialise(ADD_ONE, { ADD: '1.0' });
    const buf = ctx.buffer(4 * 64);
    ctx.launch({ op: 'before-upload', code, uniforms: new Uint32Array([64, 0, 0, 0]), bindings: [{ buffer: buf, access: 'write' }], workgroups: [1] });
    ctx.upload(buf, new Float32Array(64));
    ctx.launch({ op: 'after-upload', code, uniforms: new Uint32Array([64, 0, 0, 0]), bindings: [{ buffer: buf, access: 'write' }], workgroups: [1] });
    await ctx.flush();
    const ops = ctx.profiler!.report().map((r) => r.op);
    expect(ops).toContain('before-upload');
    expect(ops).toContain('after-upload');
    expect((await ctx.readF32(buf, 1))[0]).toBe(1);
    ctx.release(buf);
  });
});

describe('launch path', () => {
  const ADD_P = /* wgsl */ `
@group(0) @binding(0) var<uniform> p: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < p.x) { x[g.x] = x[g.x] + f32(p.y); }
}`;
  const addLaunch = (buf: GPUBuffer, n: number, add: number, op = 'add-p') => ({
    op,
    code: ADD_P,
    uniforms: new Uint32Array([n, add, 0, 0]),
    bindings: [{ buffer: buf, access: 'write' as const }],
    workgroups: [Math.ceil(n / 64)] as [number],
  });

  it('runs more launches than one uniform buffer holds in one batch, in order, in one pass per batch', async () => {
    const { ctx } = gpu;
    // Timed launches get a pass each (timestamps are per pass); an earlier test turned timing on.
    const profiler = ctx.profiler;
    ctx.profiler = undefined;
    const buf = ctx.buffer(4 * 64);
    ctx.upload(buf, new Float32Array(64));
    const passes = ctx.passes;
    const batches = ctx.batchCount;
    // 700 launches at a 256-byte uniform stride pass the 512 that fit: the batch is cut once.
    for (let k = 1; k <= 700; k++) ctx.launch(addLaunch(buf, 64, k));
    const out = await ctx.readF32(buf, 64);
    expect(out[0]).toBe((700 * 701) / 2);
    expect(out[63]).toBe((700 * 701) / 2);
    expect(ctx.batchCount - batches).toBe(2);
    expect(ctx.passes - passes).toBe(2);
    ctx.release(buf);
    ctx.profiler = profiler;
  });

  it('makes a bind group once per (layout, buffers), reuses it across batches, and drops it when the pool destroys a buffer', async () => {
    const { ctx } = gpu;
    // Buffers earlier tests left in the pool (and their groups) go first, so `a` is a new buffer.
    ctx.pool.trim();
    const a = ctx.buffer(4 * 64);
    ctx.upload(a, new Float32Array(64));
    const created = ctx.bindGroups.created;
    for (let step = 0; step < 3; step++) {
      ctx.launch(addLaunch(a, 64, 1));
      ctx.launch(addLaunch(a, 32, 2));
      await ctx.flush();
    }
    // Same layout, buffer and uniform size every time: one group for all six launches.
    expect(ctx.bindGroups.created - created).toBe(1);
    expect((await ctx.readF32(a, 64))[0]).toBe(9);
    const groups = ctx.bindGroups.size;
    ctx.release(a);
    ctx.pool.trim();
    expect(ctx.bindGroups.size).toBe(groups - 1);
    const b = ctx.buffer(4 * 64);
    ctx.upload(b, new Float32Array(64).fill(1));
    ctx.launch(addLaunch(b, 64, 1));
    expect((await ctx.readF32(b, 64))[5]).toBe(2);
    ctx.release(b);
  });

  it('keys pipelines by a short id: one pipeline per specialised source and layout', () => {
    const { ctx } = gpu;
    const code = specialise(ADD_ONE, { ADD: '7.0' });
    const id = ctx.pipelines.codeId(code);
    expect(ctx.pipelines.codeId(specialise(ADD_ONE, { ADD: '7.0' }))).toBe(id);
    expect(ctx.pipelines.codeId(specialise(ADD_ONE, { ADD: '8.0' }))).not.toBe(id);
  });

  it('names the batch and its ops when one of several launches fails, and says how to find the exact op', async () => {
    const { ctx } = gpu;
    const buf = ctx.buffer(4 * 64);
    ctx.launch(addLaunch(buf, 64, 1, 'good-op'));
    ctx.launch({ op: 'bad-op', shapes: { x: [3] }, code: 'not wgsl either', bindings: [{ buffer: buf, access: 'write' }], workgroups: [1] });
    ctx.launch(addLaunch(buf, 64, 1, 'good-op'));
    const err = (await ctx.flush().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(GpuValidationError);
    expect(err.message).toMatch(/batch #\d+ of 3 launches \(good-op ×2, bad-op\)/);
    expect(err.message).toContain('checkEachLaunch');
    expect(err.message).toContain('RANKSCOPE_CHECK_EACH_LAUNCH=1');

    ctx.checkEachLaunch = true;
    try {
      ctx.launch(addLaunch(buf, 64, 1, 'good-op'));
      ctx.launch({ op: 'bad-op', shapes: { x: [3] }, code: 'not wgsl either', bindings: [{ buffer: buf, access: 'write' }], workgroups: [1] });
      const exact = (await ctx.flush().catch((e: unknown) => e)) as Error;
      expect(exact).toBeInstanceOf(GpuValidationError);
      expect((exact as GpuValidationError).op).toBe('bad-op');
      expect(exact.message).toContain('x=[3]');
      expect(exact.message).not.toContain('checkEachLaunch');
    } finally {
      ctx.checkEachLaunch = false;
    }
    ctx.release(buf);
  });
});

describe('memory limits', () => {
  it('refuses a buffer past the device limit before asking the device, naming the sizes', () => {
    const { ctx, device } = gpu;
    const tooBig = device.limits.maxStorageBufferBindingSize + 1024;
    const created = ctx.pool.created;
    expect(() => ctx.buffer(tooBig, 'huge-activations')).toThrow(GpuMemoryLimitError);
    expect(() => ctx.buffer(tooBig, 'huge-activations')).toThrow(/"huge-activations".*(maxBufferSize|maxStorageBufferBindingSize)/);
    expect(ctx.pool.created).toBe(created);
  });

  it('makes room under the engine-side limit by freeing idle buffers, then refuses', () => {
    const { ctx } = gpu;
    ctx.pool.trim();
    const base = ctx.pool.allocatedBytes;
    ctx.pool.limitBytes = base + 64 * 1024;
    try {
      const a = ctx.buffer(40 * 1024);
      ctx.release(a);
      // a is idle: a different size fits once a is destroyed.
      const b = ctx.buffer(48 * 1024);
      expect(ctx.pool.allocatedBytes - base).toBe(BufferPool.bucket(48 * 1024));
      const err = (() => {
        try {
          ctx.buffer(40 * 1024, 'second');
        } catch (e) {
          return e as GpuMemoryLimitError;
        }
      })();
      expect(err).toBeInstanceOf(GpuMemoryLimitError);
      expect(err!.allowedBytes).toBe(base + 64 * 1024);
      expect(err!.neededBytes).toBe(ctx.pool.allocatedBytes + BufferPool.bucket(40 * 1024));
      ctx.release(b);
    } finally {
      ctx.pool.limitBytes = undefined;
    }
  });

  it('abandonSince destroys what was handed out after the mark and ignores its later release', () => {
    const { ctx } = gpu;
    const keep = ctx.buffer(1024);
    const mark = ctx.pool.mark();
    const live = ctx.pool.live;
    const lost = [ctx.buffer(2048), ctx.buffer(4096)];
    expect(ctx.pool.abandonSince(mark)).toBe(2048 + 4096);
    expect(ctx.pool.live).toBe(live);
    for (const b of lost) ctx.release(b);
    expect(ctx.pool.live).toBe(live);
    ctx.release(keep);
  });
});
