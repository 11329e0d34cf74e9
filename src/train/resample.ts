/**
 * Image resizing on the CPU exactly as Pillow's `Image.resize` does it for 8-bit images, because
 * that is what Hugging Face's image processors (and torchvision's transforms on PIL images) feed
 * a model: a separable convolution whose kernel widens by the scale factor when shrinking (so
 * shrinking is antialiased), horizontal pass first, each pass rounded to 8 bits, with
 * fixed-point weights of 22 fractional bits. Facts carried over from Pillow's `Resample.c`
 * (`precompute_coeffs`, `normalize_coeffs_8bpc`, `ImagingResampleHorizontal_8bpc`); the code is
 * our own. Matching it to the bit means our preprocessing equals theirs, not merely resembles it.
 */

/** Pillow's resampling codes, as preprocessor_config.json's `resample` stores them. */
export const RESAMPLE = { nearest: 0, lanczos: 1, bilinear: 2, bicubic: 3, box: 4, hamming: 5 } as const;

interface Filter {
  support: number;
  f(x: number): number;
}

const bilinear: Filter = { support: 1, f: (x) => (x < 0 ? (x > -1 ? 1 + x : 0) : x < 1 ? 1 - x : 0) };
const bicubic: Filter = {
  support: 2,
  f: (x) => {
    const a = -0.5;
    x = Math.abs(x);
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
  },
};
const box: Filter = { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) };
const hamming: Filter = {
  support: 1,
  f: (x) => {
    x = Math.abs(x);
    if (x === 0) return 1;
    if (x >= 1) return 0;
    x *= Math.PI;
    return (Math.sin(x) / x) * (0.54 + 0.46 * Math.cos(x));
  },
};
const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
const lanczos: Filter = { support: 3, f: (x) => (x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) };

function filterFor(resample: number): Filter {
  switch (resample) {
    case RESAMPLE.bilinear:
      return bilinear;
    case RESAMPLE.bicubic:
      return bicubic;
    case RESAMPLE.box:
      return box;
    case RESAMPLE.hamming:
      return hamming;
    case RESAMPLE.lanczos:
      return lanczos;
    default:
      // Nearest is handled apart; anything unknown is refused so a config typo is not silently bilinear.
      throw new RangeError(`Unknown resampling code ${resample} (Pillow's codes: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming).`);
  }
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

interface Coeffs {
  /** First source index per output index. */
  start: Int32Array;
  /** Tap count per output index. */
  count: Int32Array;
  /** Fixed-point weights, `ksize` per output index. */
  k: Float64Array;
  ksize: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc, for source range [in0, in1) of an axis. */
function coefficients(inSize: number, in0: number, in1: number, outSize: number, filter: Filter): Coeffs {
  const scale = (in1 - in0) / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const k = new Float64Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    // C's (int) truncates toward zero.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = filter.f((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      // normalize_coeffs_8bpc: round half away from zero into fixed point.
      k[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, k, ksize };
}

function clip8(acc: number): number {
  const v = Math.floor(acc / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** An 8-bit channel-last image. */
export interface Image8 {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** A source window in whole pixels (a crop), as Pillow's resize `box` with integer edges. */
export interface Window {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Resizes `img` (or the `window` of it) to width×height with Pillow's filter `resample`
 * (RESAMPLE codes). Equal to `Image.resize((width, height), resample, box)` on the same pixels.
 */
export function resizeImage(img: Image8, width: number, height: number, resample: number, window?: Window): Image8 {
  const win = window ?? { x: 0, y: 0, width: img.width, height: img.height };
  if (!(width >= 1 && height >= 1 && Number.isInteger(width) && Number.isInteger(height))) {
    throw new RangeError(`Cannot resize to ${width}×${height}: sizes must be whole numbers of at least 1.`);
  }
  if (win.x < 0 || win.y < 0 || win.width < 1 || win.height < 1 || win.x + win.width > img.width || win.y + win.height > img.height) {
    throw new RangeError(`Crop ${win.width}×${win.height} at (${win.x}, ${win.y}) is not inside the ${img.width}×${img.height} image.`);
  }
  const C = img.channels;
  if (resample === RESAMPLE.nearest) return nearest(img, width, height, win);
  const filter = filterFor(resample);
  const needH = width !== img.width || win.x !== 0 || win.width !== img.width;
  const needV = height !== img.height || win.y !== 0 || win.height !== img.height;
  let src = img.data;
  let srcW = img.width;
  // Rows the vertical pass will read, as Pillow restricts the first pass to them.
  let rowFirst = 0;
  let rows = img.height;
  let cv: Coeffs | undefined;
  if (needV) {
    cv = coefficients(img.height, win.y, win.y + win.height, height, filter);
    rowFirst = cv.start[0];
    rows = cv.start[height - 1] + cv.count[height - 1] - rowFirst;
  } else {
    rowFirst = win.y;
    rows = win.height;
  }
  if (needH) {
    const ch = coefficients(img.width, win.x, win.x + win.width, width, filter);
    const out = new Uint8Array(rows * width * C);
    for (let y = 0; y < rows; y++) {
      const rowIn = (y + rowFirst) * img.width * C;
      const rowOut = y * width * C;
      for (let xx = 0; xx < width; xx++) {
        const s = ch.start[xx];
        const n = ch.count[xx];
        const ko = xx * ch.ksize;
        for (let c = 0; c < C; c++) {
          let acc = HALF;
          for (let x = 0; x < n; x++) acc += src[rowIn + (s + x) * C + c] * ch.k[ko + x];
          out[rowOut + xx * C + c] = clip8(acc);
        }
      }
    }
    src = out;
    srcW = width;
  } else if (!needV) {
    // Neither pass: the window is the whole image at the same size.
    return { data: img.data.slice(), width, height, channels: C };
  } else {
    // Only a vertical pass: take the window's columns as they are.
    const out = new Uint8Array(rows * width * C);
    for (let y = 0; y < rows; y++) out.set(img.data.subarray(((y + rowFirst) * img.width + win.x) * C, ((y + rowFirst) * img.width + win.x + width) * C), y * width * C);
    src = out;
    srcW = width;
  }
  if (!cv) return { data: src, width, height, channels: C };
  const out = new Uint8Array(width * height * C);
  const rowStride = srcW * C;
  for (let yy = 0; yy < height; yy++) {
    const s = cv.start[yy] - rowFirst;
    const n = cv.count[yy];
    const ko = yy * cv.ksize;
    for (let i = 0; i < width * C; i++) {
      let acc = HALF;
      for (let y = 0; y < n; y++) acc += src[(s + y) * rowStride + i] * cv.k[ko + y];
      out[yy * width * C + i] = clip8(acc);
    }
  }
  return { data: out, width, height, channels: C };
}

function nearest(img: Image8, width: number, height: number, win: Window): Image8 {
  const C = img.channels;
  const out = new Uint8Array(width * height * C);
  for (let y = 0; y < height; y++) {
    const sy = win.y + Math.min(win.height - 1, Math.floor(((y + 0.5) * win.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = win.x + Math.min(win.width - 1, Math.floor(((x + 0.5) * win.width) / width));
      for (let c = 0; c < C; c++) out[(y * width + x) * C + c] = img.data[(sy * img.width + sx) * C + c];
    }
  }
  return { data: out, width, height, channels: C };
}

/** Mirrors an image left-right in place (RandomHorizontalFlip). */
export function flipInPlace(img: Image8): void {
  const { width: W, height: H, channels: C, data } = img;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W >> 1; x++) {
      const a = (y * W + x) * C;
      const b = (y * W + W - 1 - x) * C;
      for (let c = 0; c < C; c++) {
        const t = data[a + c];
        data[a + c] = data[b + c];
        data[b + c] = t;
      }
    }
  }
}
