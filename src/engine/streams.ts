/**
 * Stream ids for the counter-based generator (src/engine/random.ts), one per kind of random
 * tensor, so two tensors made from the same seed never share values. Never renumber: exported
 * adapters record (seed, stream) and are rebuilt from them.
 */
export const STREAMS = {
  loraA: 0x10a0,
  randloraA: 0x52a0,
  randloraB: 0x52b0,
  veraA: 0x5ea0,
  veraB: 0x5eb0,
  nolaA: 0x401a,
  nolaB: 0x401b,
  headInit: 0x4ead,
  modelInit: 0x30de1,
  dataSplit: 0x5b1,
  /** Random resized crops and flips of training images (src/engine/ops/preprocess.ts). */
  augment: 0xa06e,
  /** aTLAS×K's groups: block b's elements draw from stream composeGroups + b·0x10000 (src/compose/groups.ts). */
  composeGroups: 0xc0b0,
} as const;
