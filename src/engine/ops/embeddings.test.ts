import { describe, expect, it } from 'vitest';
import { useGpu, testData, f32Tolerance } from '../../testing/gpu';
import { cotangent, dot64, f32Round, numericGradient, relErr } from '../../testing/gradcheck';
import { Tensor } from '../tensor';
import { maxRelError } from '../reference/linalg';
import { embedTokens64, embedTokensBackward64, patchEmbed64, patchEmbedBackward64, type ConvDims } from '../reference/embeddings';
import { embedTokens, embedTokensBackward, im2col, patchEmbed, patchEmbedBackward } from './embeddings';

const gpu = useGpu();

function upload(shape: number[], data: ArrayLike<number>): Tensor {
  return Tensor.from(gpu().ctx, shape, Float32Array.from(data));
}

describe('embedding float64 references', () => {
  it('patch convolution gradients match central finite differences', () => {
    const d: ConvDims = { batch: 2, channels: 2, height: 5, width: 4, hidden: 3, patch: 2 };
    const img = testData(2 * 2 * 5 * 4, 1);
    const w = testData(3 * 2 * 2 * 2, 2);
    const b = testData(3, 3);
    const cot = cotangent(2 * 2 * 2 * 3, 4);
    const g = patchEmbedBackward64(cot, img, d);
    expect(relErr(g.dw, numericGradient((x) => dot64(patchEmbed64(img, x, b, d), cot), w))).toBeLessThan(1e-8);
    expect(relErr(g.db, numericGradient((x) => dot64(patchEmbed64(img, w, x, d), cot), b))).toBeLessThan(1e-8);
  });

  it('token assembly gradients match central finite differences', () => {
    const [B, Np, D, P] = [2, 3, 4, 1];
    const T = P + Np;
    const patches = testData(B * Np * D, 5);
    const prefix = testData(P * D, 6);
    const pos = testData(T * D, 7);
    const cot = cotangent(B * T * D, 8);
    const g = embedTokensBackward64(cot, B, T, D, P);
    const f = (pa: Float64Array, pr: Float64Array, po: Float64Array) => dot64(embedTokens64(pa, pr, po, B, Np, D), cot);
    expect(relErr(g.dPatch, numericGradient((x) => f(x, prefix, pos), patches))).toBeLessThan(1e-8);
    expect(relErr(g.dPrefix, numericGradient((x) => f(patches, x, pos), prefix))).toBeLessThan(1e-8);
    expect(relErr(g.dPos, numericGradient((x) => f(patches, prefix, x), pos))).toBeLessThan(1e-8);
  });
});

describe('patch embedding on the GPU against float64', () => {
  // ViT-like (bias, image sides not multiples of p: the remainder is dropped) and CLIP-like (no bias).
  const cases: Array<ConvDims & { bias: boolean }> = [
    { batch: 2, channels: 3, height: 10, width: 13, hidden: 12, patch: 4, bias: true },
    { batch: 1, channels: 3, height: 16, width: 16, hidden: 64, patch: 4, bias: false },
  ];
  for (const c of cases) {
    it(`${c.batch}x${c.channels}x${c.height}x${c.width} p=${c.patch} → ${c.hidden}${c.bias ? ' +bias' : ''}: forward, dweight, dbias`, async () => {
      const gh = Math.floor(c.height / c.patch);
      const gw = Math.floor(c.width / c.patch);
      const Np = gh * gw;
      const K = c.channels * c.patch * c.patch;
      const img64 = f32Round(testData(c.batch * c.channels * c.height * c.width, 10));
      const w64 = f32Round(testData(c.hidden * K, 11));
      const b64 = c.bias ? f32Round(testData(c.hidden, 12)) : undefined;
      const dy64 = f32Round(testData(c.batch * Np * c.hidden, 13));
      const img = upload([c.batch, c.channels, c.height, c.width], img64);
      const w = upload([c.hidden, c.channels, c.patch, c.patch], w64);
      const b = b64 ? upload([c.hidden], b64) : undefined;
      const { out, saved } = patchEmbed(img, w, b);
      expect(out.shape).toEqual([c.batch, Np, c.hidden]);
      // K-term f32 dot products.
      expect(maxRelError(await out.read(), patchEmbed64(img64, w64, b64, c))).toBeLessThan(f32Tolerance(K));

      const ref = patchEmbedBackward64(dy64, img64, c);
      const dy = upload([c.batch, Np, c.hidden], dy64);
      const g = patchEmbedBackward(dy, saved!, { biasGrad: c.bias, release: false });
      expect(g.dweight!.shape).toEqual([c.hidden, c.channels, c.patch, c.patch]);
      // Sums over B·Np patches.
      expect(maxRelError(await g.dweight!.read(), ref.dw)).toBeLessThan(f32Tolerance(c.batch * Np));
      if (c.bias) expect(maxRelError(await g.dbias!.read(), ref.db)).toBeLessThan(f32Tolerance(c.batch * Np));
      else expect(g.dbias).toBeUndefined();
      // A second micro-batch accumulates.
      patchEmbedBackward(dy, saved!, { dweight: g.dweight, dbias: g.dbias, accumulate: true });
      expect(maxRelError(await g.dweight!.read(), ref.dw.map((v) => 2 * v))).toBeLessThan(f32Tolerance(c.batch * Np));
      if (c.bias) expect(maxRelError(await g.dbias!.read(), ref.db.map((v) => 2 * v))).toBeLessThan(f32Tolerance(c.batch * Np));
      for (const t of [img, w, b, out, dy, g.dweight, g.dbias]) t?.release();
    });
  }

  it('im2col flattens each patch in the weight order (c, ky, kx)', async () => {
    const img = upload([1, 2, 4, 4], Float64Array.from({ length: 32 }, (_, i) => i));
    const p = im2col(img, 2);
    const got = await p.read();
    // Patch (py=0, px=1): channel 0 rows 0-1 cols 2-3, then channel 1.
    expect(Array.from(got.subarray(8, 16))).toEqual([2, 3, 6, 7, 18, 19, 22, 23]);
    expect(() => im2col(img, 5)).toThrow(/patch size 5 does not fit images of 4x4/);
    for (const t of [img, p]) t.release();
  });
});

describe('class token and position embeddings on the GPU against float64', () => {
  it('forward, and dPatch, dPrefix (class token), dPos written and accumulated', async () => {
    const [B, Np, D, P] = [2, 6, 12, 1];
    const T = P + Np;
    const pa64 = f32Round(testData(B * Np * D, 20));
    const cls64 = f32Round(testData(P * D, 21));
    const pos64 = f32Round(testData(T * D, 22));
    const dOut64 = f32Round(testData(B * T * D, 23));
    const pa = upload([B, Np, D], pa64);
    const cls = upload([1, 1, D], cls64);
    const pos = upload([1, T, D], pos64);
    const out = embedTokens(pa, cls, pos);
    expect(out.shape).toEqual([B, T, D]);
    expect(maxRelError(await out.read(), embedTokens64(pa64, cls64, pos64, B, Np, D))).toBeLessThan(1e-7);
    const noPos = embedTokens(pa, cls, undefined);
    expect(maxRelError(await noPos.read(), embedTokens64(pa64, cls64, undefined, B, Np, D))).toBe(0);

    const ref = embedTokensBackward64(dOut64, B, T, D, P);
    const dOut = upload([B, T, D], dOut64);
    const g = embedTokensBackward(dOut, { prefixTokens: P, prefixGrad: true, posGrad: true });
    expect(Array.from(await g.dPatch!.read())).toEqual(Array.from(Float32Array.from(ref.dPatch)));
    // Sums over the B = 2 batch entries.
    expect(maxRelError(await g.dPrefix!.read(), ref.dPrefix)).toBeLessThan(f32Tolerance(B));
    expect(maxRelError(await g.dPos!.read(), ref.dPos)).toBeLessThan(f32Tolerance(B));
    embedTokensBackward(dOut, { prefixTokens: P, patchGrad: false, dPrefix: g.dPrefix, dPos: g.dPos, accumulate: true });
    expect(maxRelError(await g.dPrefix!.read(), ref.dPrefix.map((v) => 2 * v))).toBeLessThan(f32Tolerance(B));
    expect(maxRelError(await g.dPos!.read(), ref.dPos.map((v) => 2 * v))).toBeLessThan(f32Tolerance(B));
    expect(() => embedTokens(pa, cls, upload([Np, D], testData(Np * D, 1)))).toThrow(/position embeddings.*needs 7x12/);
    for (const t of [pa, cls, pos, out, noPos, dOut, g.dPatch!, g.dPrefix!, g.dPos!]) t.release();
  });
});
