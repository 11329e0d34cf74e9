import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { IndexedDbBlobCache } from '../cache/indexedDbBlobCache';
import { DroppedFilesSource } from '../sources/droppedFiles';
import { blobImageCache, decodeCachedImage, encodeCachedImage, imageCacheTag } from './imageCache';
import { readImageFolder } from './imageFolder';
import { datasetImage } from './types';

describe('working-size image cache in IndexedDB (the page)', () => {
  it('round-trips images by fingerprint and treats another fingerprint as a miss', async () => {
    const img = datasetImage(Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => i), 5, 4, 3);
    const bytes = encodeCachedImage('cat/a.jpg|123|456', img);
    expect(decodeCachedImage(bytes, 'cat/a.jpg|123|456')).toMatchObject({ width: 5, height: 4, channels: 3 });
    expect(decodeCachedImage(bytes, 'cat/a.jpg|123|457')).toBeUndefined();
    const cache = blobImageCache(new IndexedDbBlobCache('rankscope-images-test'), imageCacheTag(224, 3));
    expect(await cache.get('cat/a.jpg|123|456')).toBeUndefined();
    await cache.put('cat/a.jpg|123|456', img);
    const back = await cache.get('cat/a.jpg|123|456');
    expect(Array.from(back!.data)).toEqual(Array.from(img.data));
    // Another working size is another namespace.
    expect(await blobImageCache(new IndexedDbBlobCache('rankscope-images-test'), imageCacheTag(256, 3)).get('cat/a.jpg|123|456')).toBeUndefined();
  });

  it('lets a dropped folder load again without decoding, keyed by name, size and modification time', async () => {
    const file = (name: string, modified: number) => new File([new Uint8Array([1, 2, 3, name.length])], name, { lastModified: modified });
    const files = [
      { file: file('a.png', 1000), path: 'set/cat/a.png' },
      { file: file('b.png', 1000), path: 'set/dog/b.png' },
    ];
    let decodes = 0;
    const decode = (bytes: Uint8Array) => {
      decodes++;
      return datasetImage(Uint8Array.of(bytes[3], bytes[3], bytes[3]), 1, 1, 3);
    };
    const cache = blobImageCache(new IndexedDbBlobCache('rankscope-images-test2'), imageCacheTag(224, 2));
    const first = await readImageFolder(new DroppedFilesSource(files), { decode, cache });
    const again = await readImageFolder(new DroppedFilesSource(files), { decode, cache });
    expect(decodes).toBe(2);
    expect(again.images.map((im) => im.data[0])).toEqual(first.images.map((im) => im.data[0]));
    // The same name saved again (newer modification time) is decoded again.
    await readImageFolder(new DroppedFilesSource([files[0], { file: file('b.png', 2000), path: 'set/dog/b.png' }]), { decode, cache });
    expect(decodes).toBe(3);
  });
});
