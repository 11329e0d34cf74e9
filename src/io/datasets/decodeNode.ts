/**
 * Decoding PNG and JPEG under Node with pure-JavaScript libraries (pngjs, jpeg-js), for the
 * command-line runner and tests; the page decodes with createImageBitmap instead. Output
 * follows PIL's convert('RGB'), as Transformers' processors do: alpha is dropped; grey images
 * stay one channel and become RGB at preprocessing.
 */
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { datasetImage, type DatasetImage } from './types';
import { sniffImageFormat } from './imageFormat';

/** Errors say what is wrong with the bytes, not which file: callers put the name beside them. */
export function decodeImageNode(bytes: Uint8Array): DatasetImage {
  const format = sniffImageFormat(bytes);
  if (format === 'png') {
    let png;
    try {
      png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new Error(`damaged PNG (${(e as Error).message})`);
    }
    const { width, height, data } = png;
    const grey = png.colorType === 0 || png.colorType === 4;
    const channels = grey ? 1 : 3;
    const out = new Uint8Array(width * height * channels);
    for (let i = 0, n = width * height; i < n; i++) {
      if (grey) out[i] = data[4 * i];
      else {
        out[3 * i] = data[4 * i];
        out[3 * i + 1] = data[4 * i + 1];
        out[3 * i + 2] = data[4 * i + 2];
      }
    }
    return datasetImage(out, width, height, channels);
  }
  if (format === 'jpeg') {
    let img;
    try {
      img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
    } catch (e) {
      throw new Error(`damaged or unsupported JPEG (${(e as Error).message})`);
    }
    return datasetImage(img.data, img.width, img.height, 3);
  }
  throw new Error(
    format
      ? `${format.toUpperCase()} images are not decoded by the command-line reader (only PNG and JPEG): convert it to PNG`
      : 'not a PNG or JPEG image (unrecognised content)',
  );
}
