import { randU32 } from '../engine/random';

/**
 * Images ready for the GPU: all one size, 8-bit, channel-last, packed in one array. The io and
 * session layers turn whatever a person loaded into this; training never sees files.
 */
export interface PackedImages {
  count: number;
  height: number;
  width: number;
  /** 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
  pixels: Uint8Array;
  labels: Int32Array;
  classNames: string[];
}

export function imageBytes(set: PackedImages): number {
  return set.height * set.width * set.channels;
}

/** Copies the images at `indices` into `out` (reused across steps) and returns their labels. */
export function gatherBatch(set: PackedImages, indices: readonly number[], out: Uint8Array, labels: Int32Array): void {
  const n = imageBytes(set);
  indices.forEach((idx, i) => {
    out.set(set.pixels.subarray(idx * n, (idx + 1) * n), i * n);
    labels[i] = set.labels[idx];
  });
}

/**
 * Seeded epochs over `indices`: each epoch is a fresh permutation, so two runs with the same seed
 * see the same batches in the same order (what makes runs of different methods comparable).
 */
export interface SamplerPosition {
  /** Epochs started so far (0: none). */
  epoch: number;
  /** Images drawn from the current epoch's order. */
  pos: number;
}

export class BatchSampler {
  private order: number[] = [];
  private pos = 0;
  private epoch = 0;

  constructor(
    private readonly indices: readonly number[],
    private readonly batchSize: number,
    private readonly seed: number,
  ) {
    if (indices.length === 0) throw new Error('The training set is empty: load a data set with at least one labelled image.');
  }

  next(): number[] {
    const out: number[] = [];
    while (out.length < this.batchSize) {
      if (this.pos >= this.order.length) this.shuffle();
      out.push(this.order[this.pos++]);
    }
    return out;
  }

  /** Where the sampler stands: enough to continue the same sequence of batches after a restart. */
  get position(): SamplerPosition {
    return { epoch: this.epoch, pos: this.pos };
  }

  /** Continues from a saved position (the permutation of an epoch is a function of seed and epoch). */
  restore(p: SamplerPosition): void {
    if (!(Number.isInteger(p.epoch) && p.epoch >= 0 && Number.isInteger(p.pos) && p.pos >= 0)) {
      throw new Error(`sampler position ${JSON.stringify(p)} is not a saved position`);
    }
    this.order = [];
    this.pos = 0;
    this.epoch = Math.max(0, p.epoch - 1);
    if (p.epoch > 0) {
      this.shuffle();
      if (p.pos > this.order.length) throw new Error(`sampler position ${p.pos} is past the ${this.order.length} training images`);
      this.pos = p.pos;
    }
  }

  private shuffle(): void {
    const a = [...this.indices];
    for (let i = a.length - 1; i > 0; i--) {
      const j = randU32(this.seed, 0xba7c0000 + this.epoch, i) % (i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    this.order = a;
    this.pos = 0;
    this.epoch++;
  }
}
