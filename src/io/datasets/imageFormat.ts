/**
 * Which image format bytes hold, from their first bytes: file extensions lie often enough
 * (a PNG saved as .jpg) that decoders are chosen by content.
 */
export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'tiff' | 'avif';

export function sniffImageFormat(b: Uint8Array): ImageFormat | null {
  const at = (i: number, ...xs: number[]) => xs.every((x, k) => b[i + k] === x);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return 'gif';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  if (at(0, 0x42, 0x4d)) return 'bmp';
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  if (at(4, 0x66, 0x74, 0x79, 0x70, 0x61, 0x76, 0x69, 0x66)) return 'avif';
  return null;
}

/** Extensions worth trying to decode; anything else in a class folder is reported as not an image. */
export const IMAGE_EXTENSIONS = /\.(png|jpe?g|jfif|gif|webp|bmp|tiff?|avif)$/i;

/**
 * Width and height from a PNG's IHDR or a JPEG's frame header, read before any pixel buffer is
 * allocated, so an image whose header claims 40000×40000 pixels is refused by its size; null
 * for other formats or headers that cannot be read (the decoder then says what is wrong).
 */
export function imageDimensions(b: Uint8Array): { width: number; height: number } | null {
  const format = sniffImageFormat(b);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (format === 'png') {
    if (b.length < 24) return null;
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (format === 'jpeg') {
    // Walk the markers up to a start-of-frame (SOF0–SOF15 but DHT, JPG and DAC).
    let p = 2;
    while (p + 9 < b.length) {
      if (b[p] !== 0xff) return null;
      const marker = b[p + 1];
      if (marker === 0xff) {
        p++;
        continue;
      }
      if (marker >= 0xd0 && marker <= 0xd9) {
        p += 2;
        continue;
      }
      const length = view.getUint16(p + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: view.getUint16(p + 7), height: view.getUint16(p + 5) };
      }
      p += 2 + length;
    }
  }
  return null;
}

/** The error an over-large image is skipped with (callers put the file's name before it). */
export function tooManyPixels(d: { width: number; height: number }, maxPixels: number): Error | undefined {
  if (d.width * d.height <= maxPixels) return undefined;
  return new Error(`it is ${d.width}×${d.height} pixels; Rankscope reads images up to ${Math.round(maxPixels / 1e6)} megapixels: resize it`);
}
