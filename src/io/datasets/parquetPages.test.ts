import { describe, expect, it } from 'vitest';
import { snappyFits } from './parquetPages';

describe('snappyFits: a snappy stream is checked before hyparquet decodes it', () => {
  it('accepts literals and copies that fill the page exactly', () => {
    // preamble 6; literal "abc" (tag (3-1)<<2); copy-1 of length 4 at offset 3 would overrun 6, so copy len 4 → 7 bytes.
    expect(snappyFits(Uint8Array.of(6, 2 << 2, 97, 98, 99, 1 | (0 << 2), 3), 7)).toBe(true);
    expect(snappyFits(Uint8Array.of(3, 2 << 2, 97, 98, 99), 3)).toBe(true);
  });

  it('refuses lengths past the page, copies before the start, and a 4-byte literal length claiming gigabytes', () => {
    expect(snappyFits(Uint8Array.of(3, 2 << 2, 97, 98, 99), 2)).toBe(false);
    expect(snappyFits(Uint8Array.of(7, 1 | (0 << 2), 5), 4)).toBe(false);
    expect(snappyFits(Uint8Array.of(5, 63 << 2, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3), 5)).toBe(false);
    expect(snappyFits(Uint8Array.of(3, 2 << 2, 97, 98), 3)).toBe(false);
  });
});
