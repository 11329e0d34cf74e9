/** The counter-based generator on the GPU: its WGSL, and tensors filled with `randomArray`'s values. */
import fillWgsl from '../../shaders/fill.wgsl';
import randomWgsl from '../../shaders/random.wgsl';
import type { GpuContext } from '../gpu/context';
import { grid1D, kernelCode } from './ops/kernel';
import type { Distribution } from './random';
import { Tensor } from './tensor';

/** WGSL of the generator, for kernels that make basis elements on the fly. */
export const RANDOM_WGSL = randomWgsl;

/** Fills a new tensor on the GPU with the same values `randomArray` gives. */
export function randomTensor(
  ctx: GpuContext,
  shape: readonly number[],
  seed: number,
  stream: number,
  dist: Distribution,
  label = 'random',
): Tensor {
  const t = Tensor.empty(ctx, shape, label);
  const params = new ArrayBuffer(32);
  const u = new Uint32Array(params);
  const f = new Float32Array(params);
  u.set([t.size, seed >>> 0, stream >>> 0, dist.kind === 'normal' ? 1 : 0]);
  if (dist.kind === 'uniform') f.set([dist.lo, dist.hi, 0], 4);
  else f.set([0, 0, dist.std], 4);
  ctx.launch({
    op: 'random_fill',
    shapes: { out: shape },
    code: kernelCode(fillWgsl, {}, 'fill.wgsl', { key: 'random.wgsl', code: randomWgsl }),
    uniforms: params,
    bindings: [{ buffer: t.buffer, access: 'write' }],
    workgroups: grid1D(t.size),
  });
  return t;
}
