/**
 * The one in-memory shape every data set reader produces (IDX now; class folders decoded under
 * Node or by createImageBitmap in the page; zip, CIFAR and parquet later), so training and the
 * UI never care where images came from.
 *
 * Pixels are interleaved channel-last (row after row, R G B R G B …), as ImageData and the image
 * decoders give them. Images may differ in size; resizing to the model's input happens later,
 * once, with the model's preprocessing.
 */

export interface DatasetImage {
  /** height × width × channels values: 0–255 in a Uint8Array, or any scale in a Float32Array. */
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
  /** 1 grey, 3 RGB, 4 RGBA. */
  channels: 1 | 3 | 4;
  /**
   * Set on images held on disk (a Node image cache entry): `data` reads the file on each access,
   * so holders keep the object, never a copy of its data, and read it once per use.
   */
  onDisk?: true;
}

/** A file a reader could not use, and why; reported to the person, never fatal on its own. */
export interface SkippedFile {
  file: string;
  reason: string;
}

export interface ImageDataset {
  images: DatasetImage[];
  /** labels[i] is the class of images[i], an index into classNames. */
  labels: Int32Array;
  classNames: string[];
  /** Where it came from, for messages and run records. */
  source: string;
  skipped: SkippedFile[];
  /**
   * A validation split that came with the set (class folders under train/ and val/, valid/,
   * validation/ or test/): its labels index the same classNames. Training then validates on it
   * instead of holding out a share of the training images.
   */
  validation?: { set: ImageDataset; split: string };
}

/** Builds an image, checking that the data length matches, so a wrong stride fails here and not in a kernel. */
export function datasetImage(data: Uint8Array | Float32Array, width: number, height: number, channels: 1 | 3 | 4): DatasetImage {
  if (data.length !== width * height * channels) {
    throw new Error(`Image data holds ${data.length} values, but ${width}×${height}×${channels} needs ${width * height * channels}.`);
  }
  return { data, width, height, channels };
}

/** Count of images per class, in class order. */
export function classCounts(ds: Pick<ImageDataset, 'labels' | 'classNames'>): number[] {
  const counts = new Array<number>(ds.classNames.length).fill(0);
  for (const l of ds.labels) counts[l]++;
  return counts;
}

/** A view of some images (sharing their pixel data), e.g. a split or a k-shot subset. */
export function subsetDataset(ds: ImageDataset, indices: ArrayLike<number>, label = 'subset'): ImageDataset {
  const images: DatasetImage[] = new Array(indices.length);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!(j >= 0 && j < ds.images.length)) throw new RangeError(`Index ${j} is outside ${ds.source} (${ds.images.length} images).`);
    images[i] = ds.images[j];
    labels[i] = ds.labels[j];
  }
  return { images, labels, classNames: ds.classNames, source: `${ds.source} (${label}, ${indices.length} images)`, skipped: ds.skipped };
}
