/**
 * How much Rankscope will unpack or decode from one file, so a small hostile file (a zip or gzip
 * bomb, a PNG whose header claims 40000×40000 pixels) is stopped at the limit with a message
 * instead of taking a tab's memory. README.md and docs/ARCHITECTURE.md list these numbers.
 */
export const LIMITS = {
  /** One file inflated out of a zip, a tar.gz or a .gz (CIFAR's batches and Fashion-MNIST's IDX files are far below). */
  inflatedFileBytes: 512 * 2 ** 20,
  /** Everything inflated out of one archive, all its files together. */
  inflatedArchiveBytes: 4 * 2 ** 30,
  /** One image's pixels, read from its header before decoding (a 12-MP photo is far below; PIL warns past 89 MP). */
  imagePixels: 100_000_000,
} as const;

/** 512 MiB, 4 GiB: limits and sizes as a person reads them. */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${+(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${+(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${+(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} bytes`;
}
