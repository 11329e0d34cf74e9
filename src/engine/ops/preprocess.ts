import preprocessWgsl from '../../../shaders/preprocess.wgsl';
import type { GpuContext } from '../../gpu/context';
import { Tensor } from '../tensor';

export interface Normalisation {
  size: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/**
 * Uploads a batch of 8-bit images (B, h, w, c) with c = 1 or 3 and turns them into the model's
 * input (B, 3, size, size) on the GPU. `scratch` holds the packed bytes and can be reused across steps.
 */
export function preprocessImages(
  ctx: GpuContext,
  pixels: Uint8Array,
  dims: { batch: number; height: number; width: number; channels: number },
  norm: Normalisation,
  out?: Tensor,
): Tensor {
  const { batch, height, width, channels } = dims;
  if (channels !== 1 && channels !== 3) throw new Error(`preprocessImages: ${channels} channels given; images must be grayscale or RGB`);
  if (pixels.length !== batch * height * width * channels) {
    throw new Error(`preprocessImages: ${pixels.length} bytes for ${batch} images of ${height}x${width}x${channels}`);
  }
  const S = norm.size;
  const result = out ?? Tensor.empty(ctx, [batch, 3, S, S], 'pixel_values');
  if (result.size !== batch * 3 * S * S) throw new Error(`preprocessImages: out has shape [${result.shape.join(',')}]`);
  const padded = new Uint8Array(Math.ceil(pixels.length / 4) * 4);
  padded.set(pixels);
  const src = ctx.buffer(padded.length, 'pixels');
  ctx.upload(src, padded);
  const params = new ArrayBuffer(64);
  new Uint32Array(params).set([batch, height, width, channels, S, 0, 0, 0]);
  new Float32Array(params).set([...norm.mean, 0, ...norm.std.map((s) => 1 / s), 0], 8);
  const groups = Math.ceil(result.size / 256);
  const gx = Math.min(groups, 65535);
  ctx.launch({
    op: 'preprocess',
    shapes: { images: [batch, height, width, channels], out: result.shape },
    code: preprocessWgsl,
    uniforms: params,
    bindings: [
      { buffer: src, access: 'read' },
      { buffer: result.buffer, access: 'write' },
    ],
    workgroups: [gx, Math.ceil(groups / gx)],
  });
  ctx.release(src);
  return result;
}

/** Float64 reference of `preprocessImages`, for tests. */
export function preprocessReference(
  pixels: Uint8Array,
  dims: { batch: number; height: number; width: number; channels: number },
  norm: Normalisation,
): Float64Array {
  const { batch, height: h, width: w, channels: c } = dims;
  const S = norm.size;
  const out = new Float64Array(batch * 3 * S * S);
  const at = (b: number, y: number, x: number, ch: number) => pixels[((b * h + y) * w + x) * c + (c === 1 ? 0 : ch)];
  for (let b = 0; b < batch; b++)
    for (let ch = 0; ch < 3; ch++)
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          const sy = Math.min(Math.max(((y + 0.5) * h) / S - 0.5, 0), h - 1);
          const sx = Math.min(Math.max(((x + 0.5) * w) / S - 0.5, 0), w - 1);
          const y0 = Math.floor(sy);
          const x0 = Math.floor(sx);
          const y1 = Math.min(y0 + 1, h - 1);
          const x1 = Math.min(x0 + 1, w - 1);
          const fy = sy - y0;
          const fx = sx - x0;
          const top = at(b, y0, x0, ch) * (1 - fx) + at(b, y0, x1, ch) * fx;
          const bot = at(b, y1, x0, ch) * (1 - fx) + at(b, y1, x1, ch) * fx;
          const v = (top * (1 - fy) + bot * fy) / 255;
          out[((b * 3 + ch) * S + y) * S + x] = (v - norm.mean[ch]) / norm.std[ch];
        }
  return out;
}
