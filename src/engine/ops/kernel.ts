/**
 * Small helpers shared by the element-wise, reduction, normalisation, attention, embedding, loss
 * and optimizer ops: cached specialisation, 1-D launch grids that stay under the 65535 workgroup
 * limit per dimension, a placeholder buffer for bindings a mode leaves unused, and shape checks
 * whose messages name the op and the shapes.
 */
import type { GpuContext } from '../../gpu/context';
import { specialise, type Defines } from '../../gpu/specialise';
import { Tensor } from '../tensor';

const specialised = new Map<string, string>();

/**
 * `specialise` with a cache keyed by (shader file, defines), not by the source text: ops run
 * hundreds of launches per step and the sources do not change. `extra` is WGSL appended after
 * specialising (the random generator), named by `extraKey`. The same
 * string instance comes back every time, so the pipeline cache's lookup by code stays cheap.
 */
export function kernelCode(source: string, defines: Defines, file: string, extra?: { key: string; code: string }): string {
  const key = `${file}|${JSON.stringify(defines)}${extra ? `|${extra.key}` : ''}`;
  let code = specialised.get(key);
  if (code === undefined) {
    code = specialise(source, defines, file) + (extra ? `\n// --- ${extra.key} ---\n${extra.code}` : '');
    specialised.set(key, code);
  }
  return code;
}

/**
 * Workgroups for `n` items at `perGroup` items each, folded into two dimensions when there are
 * more than 65535 groups. Kernels rebuild the flat group index as `wg.y * nw.x + wg.x`.
 */
export function grid1D(n: number, perGroup = 256): [number, number] {
  return gridFold(Math.ceil(n / perGroup));
}

/** `groups` workgroups folded into [x, y] with x ≤ 65535 (the one copy of this rule). */
export function gridFold(groups: number): [number, number] {
  const x = Math.min(Math.max(1, groups), 65535);
  return [x, Math.ceil(Math.max(1, groups) / x)];
}

/**
 * Views a (…, n) activation as (N, n), folding leading batch dimensions into rows (a view, not a
 * copy); `op` and `what` name it in the error when its last dimension is not n.
 */
export function asRows(t: Tensor, n: number, op: string, what: string): Tensor {
  if (t.cols !== n) throw new Error(`${op}: ${what} has shape [${t.shape.join(',')}], its last dimension must be ${n}`);
  return t.shape.length === 2 ? t : t.reshape([t.size / n, n]);
}

const placeholders = new WeakMap<GpuContext, Map<string, GPUBuffer>>();

/**
 * A 16-byte zeroed storage buffer bound where a kernel's mode uses nothing from a slot (WebGPU
 * needs every slot of the layout bound). Kernels never touch it in that mode. A buffer may not be
 * bound writable and read-only in one dispatch, so read slots and write slots get different
 * placeholders, and each unused write slot of one launch its own (`slot`).
 */
export function placeholder(ctx: GpuContext, access: 'read' | 'write' = 'read', slot = 0): GPUBuffer {
  let byKind = placeholders.get(ctx);
  if (!byKind) placeholders.set(ctx, (byKind = new Map()));
  const key = `${access}${slot}`;
  let b = byKind.get(key);
  if (!b) {
    b = ctx.device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
      label: `unused-${access}-binding`,
    });
    byKind.set(key, b);
  }
  return b;
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** The tensor `out` when given (checked to hold `size` values), else a new one of `shape`. */
export function outTensor(ctx: GpuContext, op: string, shape: readonly number[], out: Tensor | undefined, label = op): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (out) {
    if (out.size !== size) throw new Error(`${op}: out has shape ${shapeText(out.shape)}, needs ${size} values ${shapeText(shape)}`);
    return out;
  }
  return Tensor.empty(ctx, shape, label);
}

export function sameSize(op: string, what: string, t: Tensor, size: number, wanted: string): void {
  if (t.size !== size) throw new Error(`${op}: ${what} has shape ${shapeText(t.shape)}, needs ${wanted}`);
}

/** A uniform block of `words` 32-bit slots with u32 and f32 views over the same bytes. */
export function uniforms(words: number): { buffer: ArrayBuffer; u: Uint32Array; f: Float32Array } {
  const buffer = new ArrayBuffer(Math.ceil(words / 4) * 16);
  return { buffer, u: new Uint32Array(buffer), f: new Float32Array(buffer) };
}
