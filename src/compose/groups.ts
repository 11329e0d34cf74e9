/**
 * aTLAS×K's random partition of a block: element e of block b belongs to group
 * g(e) = rand_u32(seed, stream(b), e) mod K of the counter-based generator, so a kernel computes
 * it where it needs it (nothing is stored) and the CPU rebuilds the very same groups for
 * references, exports and Python. K = 1 is plain aTLAS: every element in group 0.
 */
import { randU32 } from '../engine/random';
import { STREAMS } from '../engine/streams';

/** The generator stream of block b: 0x10000 apart, so no two blocks (up to 65536) share one. */
export function groupStream(block: number): number {
  return (STREAMS.composeGroups + Math.imul(block, 0x10000)) >>> 0;
}

/** The group of element e of block b under aTLAS×K with this seed. */
export function groupOf(seed: number, block: number, e: number, groups: number): number {
  return groups > 1 ? randU32(seed, groupStream(block), e) % groups : 0;
}

/** Every element's group in a block of n elements (CPU, for references and exports). */
export function blockGroups(seed: number, block: number, n: number, groups: number): Uint32Array {
  const out = new Uint32Array(n);
  if (groups > 1) {
    const stream = groupStream(block);
    for (let e = 0; e < n; e++) out[e] = randU32(seed, stream, e) % groups;
  }
  return out;
}
