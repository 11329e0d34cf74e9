/**
 * An image whose header claims more pixels than Rankscope reads is refused from its header,
 * before any pixel buffer exists, and the rest of the folder still loads.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MemorySource } from '../sources/memory';
import { decodeImageNode } from './decodeNode';
import { imageDimensions } from './imageFormat';
import { loadImageDataset } from './load';

/** A 138-byte-class PNG: signature and an IHDR claiming w×h, then nothing a decoder could use. */
function pngHeader(width: number, height: number): Uint8Array {
  const b = new Uint8Array(64);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const v = new DataView(b.buffer);
  v.setUint32(16, width);
  v.setUint32(20, height);
  b.set([8, 2, 0, 0, 0], 24);
  return b;
}

describe('image bombs', () => {
  it('reads PNG and JPEG dimensions from their headers', async () => {
    expect(imageDimensions(pngHeader(40000, 30000))).toEqual({ width: 40000, height: 30000 });
    const jpeg = new Uint8Array(await sharp({ create: { width: 37, height: 21, channels: 3, background: '#808080' } }).jpeg().toBuffer());
    expect(imageDimensions(jpeg)).toEqual({ width: 37, height: 21 });
  });

  it('a PNG claiming 40000×40000 is skipped with its size, and the other images load', async () => {
    await expect(decodeImageNode(pngHeader(40000, 40000))).rejects.toThrow(/it is 40000×40000 pixels; Rankscope reads images up to 100 megapixels: resize it/);
    const ok = new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#204080' } }).png().toBuffer());
    const before = process.memoryUsage().rss;
    const ds = await loadImageDataset(
      new MemorySource([
        ['cats/bomb.png', pngHeader(40000, 40000)],
        ['cats/a.png', ok],
        ['dogs/b.png', ok],
      ]),
      { decode: (bytes) => decodeImageNode(bytes) },
    );
    expect(ds.labels.length).toBe(2);
    expect(ds.skipped).toEqual([expect.objectContaining({ file: 'cats/bomb.png', reason: expect.stringMatching(/40000×40000 pixels/) })]);
    // 40000² RGB would be 4.8 GB; nothing near that was allocated.
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 2 ** 20);
  });
});
