import { resizeImage, RESAMPLE } from '../../train/resample';
import { workingSize } from '../../train/data';
import { datasetImage, type DatasetImage } from './types';
import { imageDimensions, tooManyPixels } from './imageFormat';
import { LIMITS } from '../limits';

/** How far above the working size the browser's own resize may bring a photo before Pillow's filter takes over. */
export const BROWSER_PRESHRINK = 4;

export interface BrowserDecodeOptions {
  /** Keep images at this shortest edge (never enlarged); absent: full size. */
  edge?: number;
  /** Pillow's filter for that downscale (RESAMPLE codes); default bicubic. */
  resample?: number;
}

/**
 * Decodes PNG, JPEG, WebP, AVIF, GIF or BMP bytes with the browser's own decoders
 * (createImageBitmap, which applies EXIF orientation, and an OffscreenCanvas), in a page or a
 * worker, and brings the image down to working size at once: a photo larger than
 * BROWSER_PRESHRINK × the working size is first resized by the browser (resizeQuality 'high')
 * and the full-size bitmap closed, then Pillow's filter makes the working-size pixels. Grey
 * images come back with three equal channels and are folded back to one. Alpha is dropped, not
 * composited, as PIL's convert('RGB') does.
 */
export async function decodeImageBrowser(bytes: Uint8Array, file: string, options: BrowserDecodeOptions = {}): Promise<DatasetImage> {
  const dims = imageDimensions(bytes);
  const tooBig = dims && tooManyPixels(dims, LIMITS.imagePixels);
  if (tooBig) throw tooBig;
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes.slice().buffer]), { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch {
    // Callers put the file's name beside the reason, as for the Node decoder.
    throw new Error('not an image this browser can decode (PNG, JPEG, WebP, AVIF, GIF or BMP); it may be damaged or of another format');
  }
  const edge = options.edge;
  if (edge && Math.min(bitmap.width, bitmap.height) > BROWSER_PRESHRINK * edge) {
    const pre = workingSize(bitmap.width, bitmap.height, BROWSER_PRESHRINK * edge);
    const full = bitmap;
    bitmap = await createImageBitmap(full, { resizeWidth: pre.width, resizeHeight: pre.height, resizeQuality: 'high', premultiplyAlpha: 'none' });
    full.close();
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const g = canvas.getContext('2d', { willReadFrequently: true });
  if (!g) throw new Error(`could not get a 2D canvas to decode ${file}`);
  g.drawImage(bitmap, 0, 0);
  bitmap.close();
  const width = canvas.width;
  const height = canvas.height;
  const rgba = g.getImageData(0, 0, width, height).data;
  const n = width * height;
  let grey = true;
  for (let i = 0; i < rgba.length && grey; i += 4) grey = rgba[i] === rgba[i + 1] && rgba[i] === rgba[i + 2];
  const channels = grey ? 1 : 3;
  const px = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++) {
    if (grey) px[i] = rgba[4 * i];
    else {
      px[3 * i] = rgba[4 * i];
      px[3 * i + 1] = rgba[4 * i + 1];
      px[3 * i + 2] = rgba[4 * i + 2];
    }
  }
  // Release the canvas's backing store before the (smaller) working copy is made.
  canvas.width = canvas.height = 1;
  if (edge) {
    const s = workingSize(width, height, edge);
    if (s.width !== width || s.height !== height) {
      const r = resizeImage({ data: px, width, height, channels }, s.width, s.height, options.resample ?? RESAMPLE.bicubic);
      return datasetImage(r.data, r.width, r.height, channels);
    }
  }
  return datasetImage(px, width, height, channels);
}
