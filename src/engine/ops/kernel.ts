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

/** `specialise` with a cache: ops run hundreds of launches per step and the sources do not change. */
export function kernelCode(source: string, defines: Defines, file: string): string {
  const key = `${file}|${JSON.stringify(defines)}`;
  let code = specialised.get(key);
  if (code === undefined) {
    code = specialise(source, defines, file);
    specialised.set(key, code);
  }
  return code;
}

/**
 * Workgroups for `n` items at `perGroup` items each, folded into two dimensions when there are
 * more than 65535 groups. Kernels rebuild the flat group index as `wg.y * nw.x + wg.x`.
 */
export function grid1D(n: number, perGroup = 256): [number, number] {
  const groups = Math.max(1, Math.ceil(n / perGroup));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
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
