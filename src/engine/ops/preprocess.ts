import preprocessWgsl from '../../../shaders/preprocess.wgsl';
import type { GpuContext } from '../../gpu/context';
import { hash32, randUnit } from '../random';
import { STREAMS } from '../streams';
import { Tensor } from '../tensor';
import { grid1D, kernelCode } from './kernel';

export interface Normalisation {
  size: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/**
 * Training-time augmentation, as torchvision's RandomResizedCrop and RandomHorizontalFlip(0.5):
 * `crop` takes a box covering `scale` of the image's area with aspect ratio (width / height) in
 * `ratio`, which is then resized to the model's input; `flip` mirrors half the images left-right.
 */
export interface Augmentation {
  crop?: { scale: readonly [number, number]; ratio: readonly [number, number] } | false;
  flip?: boolean;
}

/** torchvision's defaults for RandomResizedCrop. */
export const DEFAULT_CROP = { scale: [0.08, 1] as const, ratio: [3 / 4, 4 / 3] as const };

/** One image's crop (in source pixels) and whether it is mirrored. */
export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
  flip: boolean;
}

export function hasAugmentation(aug: Augmentation | undefined): aug is Augmentation {
  return !!aug && (!!aug.crop || !!aug.flip);
}

function checkAugmentation(aug: Augmentation): void {
  if (!aug.crop) return;
  const [s0, s1] = aug.crop.scale;
  const [r0, r1] = aug.crop.ratio;
  if (!(s0 > 0 && s1 <= 1 && s0 <= s1)) throw new RangeError(`Random crop scale must satisfy 0 < min ≤ max ≤ 1; got [${s0}, ${s1}].`);
  if (!(r0 > 0 && r0 <= r1 && Number.isFinite(r1))) throw new RangeError(`Random crop aspect ratio must satisfy 0 < min ≤ max; got [${r0}, ${r1}].`);
}

/**
 * Crop boxes and flips for a batch, one per image, as torchvision's RandomResizedCrop.get_params
 * (ten tries at a box of the drawn area and aspect ratio, then a central crop) with draws from the
 * counter-based generator. An image's box depends only on (seed, step, key): `keys` are the
 * images' indices in the data set, so a run's seed reproduces every augmented batch anywhere.
 */
export function augmentBoxes(
  aug: Augmentation,
  dims: { height: number; width: number },
  keys: ArrayLike<number>,
  seed: number,
  step: number,
): CropBox[] {
  checkAugmentation(aug);
  const { height: H, width: W } = dims;
  const stepSeed = hash32((seed >>> 0) ^ Math.imul((step >>> 0) + 1, 0x85ebca6b));
  const out: CropBox[] = new Array(keys.length);
  for (let k = 0; k < keys.length; k++) {
    const s = hash32(stepSeed ^ Math.imul((keys[k] >>> 0) + 1, 0x9e3779b9));
    let draw = 0;
    const u = () => randUnit(s, STREAMS.augment, draw++);
    let box: Omit<CropBox, 'flip'> | undefined;
    if (aug.crop) {
      const [s0, s1] = aug.crop.scale;
      const [r0, r1] = aug.crop.ratio;
      for (let attempt = 0; attempt < 10 && !box; attempt++) {
        const area = H * W * (s0 + (s1 - s0) * u());
        const aspect = Math.exp(Math.log(r0) + (Math.log(r1) - Math.log(r0)) * u());
        const w = Math.round(Math.sqrt(area * aspect));
        const h = Math.round(Math.sqrt(area / aspect));
        const ry = u();
        const rx = u();
        if (w > 0 && w <= W && h > 0 && h <= H) {
          box = { x: Math.floor(rx * (W - w + 1)), y: Math.floor(ry * (H - h + 1)), width: w, height: h };
        }
      }
      if (!box) {
        // Central crop at the nearest allowed aspect ratio.
        let w = W;
        let h = H;
        if (W / H < r0) h = Math.max(1, Math.min(H, Math.round(W / r0)));
        else if (W / H > r1) w = Math.max(1, Math.min(W, Math.round(H * r1)));
        box = { x: Math.floor((W - w) / 2), y: Math.floor((H - h) / 2), width: w, height: h };
      }
    }
    // The flip draw comes after the crop's draws, at a fixed counter, so turning the crop on or off
    // does not change which images are flipped.
    const flip = !!aug.flip && randUnit(s, STREAMS.augment, 1000) < 0.5;
    out[k] = { ...(box ?? { x: 0, y: 0, width: W, height: H }), flip };
  }
  return out;
}

/**
 * Uploads a batch of 8-bit images (B, h, w, c) with c = 1 or 3 and turns them into the model's
 * input (B, 3, size, size) on the GPU. `scratch` holds the packed bytes and can be reused across steps.
 * With `boxes` (one per image, from `augmentBoxes`), each image is cropped to its box and
 * optionally mirrored in the same pass; training batches only, never evaluation.
 */
export function preprocessImages(
  ctx: GpuContext,
  pixels: Uint8Array,
  dims: { batch: number; height: number; width: number; channels: number },
  norm: Normalisation,
  out?: Tensor,
  boxes?: readonly CropBox[],
): Tensor {
  const { batch, height, width, channels } = dims;
  if (channels !== 1 && channels !== 3) throw new Error(`preprocessImages: ${channels} channels given; images must be grayscale or RGB`);
  if (pixels.length !== batch * height * width * channels) {
    throw new Error(`preprocessImages: ${pixels.length} bytes for ${batch} images of ${height}x${width}x${channels}`);
  }
  if (boxes) checkBoxes(boxes, dims);
  const S = norm.size;
  const result = out ?? Tensor.empty(ctx, [batch, 3, S, S], 'pixel_values');
  if (result.size !== batch * 3 * S * S) throw new Error(`preprocessImages: out has shape [${result.shape.join(',')}]`);
  const padded = new Uint8Array(Math.ceil(pixels.length / 4) * 4);
  padded.set(pixels);
  const src = ctx.buffer(padded.length, 'pixels');
  ctx.upload(src, padded);
  let boxBuffer: GPUBuffer | undefined;
  if (boxes) {
    const words = new Uint32Array(batch * 8);
    boxes.forEach((b, i) => words.set([b.x, b.y, b.width, b.height, b.flip ? 1 : 0], i * 8));
    boxBuffer = ctx.buffer(words.byteLength, 'crop-boxes');
    ctx.upload(boxBuffer, words);
  }
  const params = new ArrayBuffer(64);
  new Uint32Array(params).set([batch, height, width, channels, S, 0, 0, 0]);
  new Float32Array(params).set([...norm.mean, 0, ...norm.std.map((s) => 1 / s), 0], 8);
  ctx.launch({
    op: boxes ? 'preprocess_augment' : 'preprocess',
    shapes: { images: [batch, height, width, channels], out: result.shape },
    code: kernelCode(preprocessWgsl, { AUGMENT: !!boxes }, 'preprocess.wgsl'),
    uniforms: params,
    bindings: [
      { buffer: src, access: 'read' },
      { buffer: result.buffer, access: 'write' },
      ...(boxBuffer ? [{ buffer: boxBuffer, access: 'read' as const }] : []),
    ],
    workgroups: grid1D(result.size),
  });
  ctx.release(src);
  if (boxBuffer) ctx.release(boxBuffer);
  return result;
}

function checkBoxes(boxes: readonly CropBox[], dims: { batch: number; height: number; width: number }): void {
  if (boxes.length !== dims.batch) throw new Error(`preprocessImages: ${boxes.length} crop boxes for ${dims.batch} images`);
  boxes.forEach((b, i) => {
    const ok = [b.x, b.y, b.width, b.height].every(Number.isInteger) && b.x >= 0 && b.y >= 0 && b.width >= 1 && b.height >= 1;
    if (!ok || b.x + b.width > dims.width || b.y + b.height > dims.height) {
      throw new Error(`preprocessImages: crop box ${i} (${b.x}, ${b.y}, ${b.width}x${b.height}) is not inside the ${dims.width}x${dims.height} image`);
    }
  });
}

/** Float64 reference of `preprocessImages`, for tests (and CPU previews of augmentation). */
export function preprocessReference(
  pixels: Uint8Array,
  dims: { batch: number; height: number; width: number; channels: number },
  norm: Normalisation,
  boxes?: readonly CropBox[],
): Float64Array {
  const { batch, height: h, width: w, channels: c } = dims;
  const S = norm.size;
  const out = new Float64Array(batch * 3 * S * S);
  const at = (b: number, y: number, x: number, ch: number) => pixels[((b * h + y) * w + x) * c + (c === 1 ? 0 : ch)];
  for (let b = 0; b < batch; b++) {
    const box = boxes?.[b] ?? { x: 0, y: 0, width: w, height: h, flip: false };
    const bw = box.width;
    const bh = box.height;
    for (let ch = 0; ch < 3; ch++)
      for (let y = 0; y < S; y++)
        for (let xo = 0; xo < S; xo++) {
          // A flipped image's output column xo shows the crop resized, read from the other side.
          const x = box.flip ? S - 1 - xo : xo;
          const sy = Math.min(Math.max(((y + 0.5) * bh) / S - 0.5, 0), bh - 1);
          const sx = Math.min(Math.max(((x + 0.5) * bw) / S - 0.5, 0), bw - 1);
          const y0 = Math.floor(sy);
          const x0 = Math.floor(sx);
          const y1 = Math.min(y0 + 1, bh - 1);
          const x1 = Math.min(x0 + 1, bw - 1);
          const fy = sy - y0;
          const fx = sx - x0;
          const Y0 = box.y + y0;
          const Y1 = box.y + y1;
          const X0 = box.x + x0;
          const X1 = box.x + x1;
          const top = at(b, Y0, X0, ch) * (1 - fx) + at(b, Y0, X1, ch) * fx;
          const bot = at(b, Y1, X0, ch) * (1 - fx) + at(b, Y1, X1, ch) * fx;
          const v = (top * (1 - fy) + bot * fy) / 255;
          out[((b * 3 + ch) * S + y) * S + xo] = (v - norm.mean[ch]) / norm.std[ch];
        }
  }
  return out;
}
