import { datasetImage, type DatasetImage } from './types';

/**
 * Decodes PNG, JPEG, WebP, GIF or BMP bytes with the browser's own decoders (createImageBitmap and
 * an OffscreenCanvas), in a page or a worker. Grey images come back with three equal channels;
 * the packer folds them back to one.
 */
export async function decodeImageBrowser(bytes: Uint8Array, file: string): Promise<DatasetImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes.slice().buffer]));
  } catch {
    // Callers put the file's name beside the reason, as for the Node decoder.
    throw new Error('not an image this browser can decode (PNG, JPEG, WebP, GIF or BMP); it may be damaged or of another format');
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const g = canvas.getContext('2d');
  if (!g) throw new Error(`could not get a 2D canvas to decode ${file}`);
  g.drawImage(bitmap, 0, 0);
  const rgba = g.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  bitmap.close();
  return datasetImage(rgb, canvas.width, canvas.height, 3);
}
