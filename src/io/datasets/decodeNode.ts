/**
 * Decoding images under Node for the command-line runner, benchmarks and tests, with sharp
 * (libvips: libjpeg-turbo, libpng, libwebp, libheif), decoded and brought down to working size at
 * once so a 12-megapixel photo never stays in memory at full size. Output follows what
 * Transformers' `load_image` + processors see: EXIF orientation applied (PIL's exif_transpose),
 * alpha dropped without compositing (PIL's convert('RGB')), palette expanded, CMYK converted with
 * Pillow's arithmetic, 16-bit brought to 8-bit; grey images stay one channel and become RGB per batch.
 *
 * Downscaling to the working size uses Pillow's own filters (src/train/resample.ts), so a photo
 * kept at the processor's resize size is bit-for-bit what Pillow would make. Photos more than
 * PRESHRINK times larger than the working size are first reduced by libvips to PRESHRINK × the
 * working size (JPEG shrink-on-load, then an antialiased cubic reduce): the full-size decode is
 * what dominates both time and memory, and Pillow's final filter from 4× is what decides the
 * pixels (fixtures/preprocess/ measures the difference this leaves).
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { resizeImage, RESAMPLE } from '../../train/resample';
import { workingSize } from '../../train/data';
import { datasetImage, type DatasetImage } from './types';
import { imageDimensions, sniffImageFormat, tooManyPixels } from './imageFormat';
import { LIMITS } from '../limits';

/** How far above the working size libvips may bring a photo before Pillow's filter takes over. */
export const PRESHRINK = 4;

export interface NodeDecodeOptions {
  /** Keep images at this shortest edge (never enlarged); absent: full size. */
  edge?: number;
  /** Pillow's filter for that downscale (RESAMPLE codes); the model processor's, default bicubic. */
  resample?: number;
  /** Skip libvips' pre-shrink (tests that compare against Pillow on large images). */
  exact?: boolean;
}

// libvips keeps its own cache of decoded images; a loader reads each file once.
sharp.cache(false);

/** Errors say what is wrong with the bytes, not which file: callers put the name beside them. */
export async function decodeImageNode(bytes: Uint8Array, options: NodeDecodeOptions = {}): Promise<DatasetImage> {
  const format = sniffImageFormat(bytes);
  if (!format) throw new Error('not an image (unrecognised content; expected PNG, JPEG, WebP, GIF, BMP, TIFF or AVIF)');
  if (format === 'bmp') throw new Error('BMP images are not decoded by the command-line reader: convert it to PNG');
  // From the header alone, before sharp or anything else looks at the pixels.
  const dims = imageDimensions(bytes);
  const bomb = dims && tooManyPixels(dims, LIMITS.imagePixels);
  if (bomb) throw bomb;
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new Error(`damaged ${format.toUpperCase()} (${(e as Error).message})`);
  }
  if (!meta.width || !meta.height) throw new Error('the image is empty (0 pixels)');
  // sharp reads only the header here; the pixels are decoded below, so refuse a bomb first.
  const tooBig = tooManyPixels({ width: meta.width, height: meta.height }, LIMITS.imagePixels);
  if (tooBig) throw tooBig;
  const turned = (meta.orientation ?? 1) >= 5;
  const width = turned ? meta.height : meta.width;
  const height = turned ? meta.width : meta.height;
  let pipeline = sharp(input, { limitInputPixels: false, failOn: 'error' }).rotate();
  const edge = options.edge;
  if (edge && !options.exact && Math.min(width, height) > PRESHRINK * edge) {
    const pre = workingSize(width, height, PRESHRINK * edge);
    pipeline = pipeline.resize(pre.width, pre.height, { fit: 'fill', kernel: 'cubic' });
  }
  // Grey stays one channel; anything else (palette, grey+alpha…) ends as sRGB or grey, 8-bit, no
  // alpha. CMYK comes out as CMYK and is converted as Pillow's convert('RGB') does (plain
  // arithmetic, no colour profile), since that is what the model's processor sees.
  const cmyk = meta.space === 'cmyk';
  const grey = !cmyk && meta.channels !== undefined && meta.channels <= 2;
  pipeline = cmyk ? pipeline.pipelineColourspace('cmyk').toColourspace('cmyk') : pipeline.removeAlpha().toColourspace(grey ? 'b-w' : 'srgb');
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new Error(`damaged ${format.toUpperCase()} (${(e as Error).message})`);
  }
  const { info } = raw;
  let data = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  if (cmyk && info.channels === 4) data = cmykToRgb(data);
  const channels = cmyk ? 3 : info.channels;
  if (channels !== 1 && channels !== 3) throw new Error(`decoded to ${channels} channels; expected grey or RGB`);
  let img = datasetImage(data, info.width, info.height, channels);
  if (edge) {
    const s = workingSize(img.width, img.height, edge);
    if (s.width !== img.width || s.height !== img.height) {
      const r = resizeImage({ data, width: img.width, height: img.height, channels }, s.width, s.height, options.resample ?? RESAMPLE.bicubic);
      img = datasetImage(r.data, r.width, r.height, channels);
    }
  }
  return img;
}

/** Pillow's cmyk2rgb: each channel (255 − K) − C·(255 − K)/255, with its rounding. */
function cmykToRgb(cmyk: Uint8Array): Uint8Array {
  const n = cmyk.length / 4;
  const out = new Uint8Array(n * 3);
  const muldiv255 = (a: number, b: number) => {
    const t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  for (let i = 0; i < n; i++) {
    const nk = 255 - cmyk[4 * i + 3];
    for (let c = 0; c < 3; c++) out[3 * i + c] = Math.max(0, Math.min(255, nk - muldiv255(cmyk[4 * i + c], nk)));
  }
  return out;
}

/** A decoder for the data set loaders that keeps every image at `edge` (shortest side). */
export function nodeImageDecoder(options: NodeDecodeOptions = {}): (bytes: Uint8Array) => Promise<DatasetImage> {
  return (bytes) => decodeImageNode(bytes, options);
}
