import { describe, expect, it } from 'vitest';
import { erf64 } from '../../engine/reference/linalg';
import { randomArray } from '../../engine/random';
import { makeModel, weights64, type ModelArch } from '../makeModel';
import { blockModules, embeddingNames, HEAD_MODULE, linearSites } from '../names';
import { patchesPerSide, tokenCount, type ModelSpec } from '../spec';
import { im2col, referenceForward, referenceLinearModules } from './transformer64';

const images = (spec: ModelSpec, batch: number, stream = 5) =>
  randomArray(batch * spec.channels * spec.imageSize ** 2, 11, stream, { kind: 'normal', std: 1 });

/**
 * An independent, loop-by-loop forward written straight from the Hugging Face modules (no
 * autograd, no gathers): the reference's graph must give the same logits.
 */
function naiveLogits(spec: ModelSpec, W: Map<string, Float64Array>, px: Float64Array, batch: number): number[][] {
  const D = spec.hidden;
  const H = spec.heads;
  const dh = D / H;
  const S = spec.imageSize;
  const P = spec.patchSize;
  const C = spec.channels;
  const g = patchesPerSide(spec);
  const T = tokenCount(spec);
  const e = embeddingNames(spec);
  const get = (n: string) => {
    const v = W.get(n);
    if (!v) throw new Error(`missing ${n}`);
    return v;
  };
  const ln = (x: number[], name: string) => {
    const w = get(`${name}.weight`);
    const b = get(`${name}.bias`);
    const mu = x.reduce((a, v) => a + v, 0) / x.length;
    const va = x.reduce((a, v) => a + (v - mu) ** 2, 0) / x.length;
    return x.map((v, j) => ((v - mu) / Math.sqrt(va + spec.eps)) * w[j] + b[j]);
  };
  const lin = (x: number[], name: string, out: number, bias: boolean) => {
    const w = get(`${name}.weight`);
    const b = bias ? get(`${name}.bias`) : undefined;
    const y: number[] = [];
    for (let o = 0; o < out; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < x.length; i++) s += w[o * x.length + i] * x[i];
      y.push(s);
    }
    return y;
  };
  const act = (v: number) => (spec.act === 'gelu' ? 0.5 * v * (1 + erf64(v / Math.SQRT2)) : v / (1 + Math.exp(-1.702 * v)));
  const out: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const tokens: number[][] = [];
    tokens.push(Array.from(get(e.cls)));
    if (e.distillation) tokens.push(Array.from(get(e.distillation)));
    const cw = get(e.patchWeight);
    for (let py = 0; py < g; py++) {
      for (let pxI = 0; pxI < g; pxI++) {
        const t: number[] = [];
        for (let d = 0; d < D; d++) {
          let s = e.patchBias ? get(e.patchBias)[d] : 0;
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < P; ky++)
              for (let kx = 0; kx < P; kx++) s += cw[((d * C + c) * P + ky) * P + kx] * px[((b * C + c) * S + py * P + ky) * S + pxI * P + kx];
          t.push(s);
        }
        tokens.push(t);
      }
    }
    const pos = get(e.position);
    let h = tokens.map((t, i) => t.map((v, d) => v + pos[i * D + d]));
    if (e.preLayernorm) h = h.map((t) => ln(t, e.preLayernorm!));
    for (let l = 0; l < spec.layers; l++) {
      const m = blockModules(spec, l);
      const x = h.map((t) => ln(t, m.ln1));
      const q = x.map((t) => lin(t, m.query, D, spec.qkvBias));
      const k = x.map((t) => lin(t, m.key, D, spec.qkvBias));
      const v = x.map((t) => lin(t, m.value, D, spec.qkvBias));
      const ctx = h.map(() => new Array<number>(D).fill(0));
      for (let hd = 0; hd < H; hd++) {
        for (let i = 0; i < T; i++) {
          const sc: number[] = [];
          for (let j = 0; j < T; j++) {
            let s = 0;
            for (let c = 0; c < dh; c++) s += q[i][hd * dh + c] * k[j][hd * dh + c];
            sc.push(s / Math.sqrt(dh));
          }
          const mx = Math.max(...sc);
          const ex = sc.map((s) => Math.exp(s - mx));
          const z = ex.reduce((a, s) => a + s, 0);
          for (let j = 0; j < T; j++) for (let c = 0; c < dh; c++) ctx[i][hd * dh + c] += (ex[j] / z) * v[j][hd * dh + c];
        }
      }
      h = h.map((t, i) => lin(ctx[i], m.attnOut, D, true).map((y, d) => t[d] + y));
      h = h.map((t) => {
        const mid = lin(ln(t, m.ln2), m.fc1, spec.intermediate, true).map(act);
        return lin(mid, m.fc2, D, true).map((y, d) => t[d] + y);
      });
    }
    let pooled: number[];
    if (spec.family === 'clip') {
      pooled = new Array<number>(D).fill(0);
      for (let i = 1; i < T; i++) for (let d = 0; d < D; d++) pooled[d] += h[i][d] / (T - 1);
    } else {
      pooled = ln(h[0], e.finalLayernorm);
    }
    out.push(lin(pooled, HEAD_MODULE, get(`${HEAD_MODULE}.bias`).length, true));
  }
  return out;
}

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let m = 1e-300;
  let e = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]));
  return e / m;
}

const ARCHS: ModelArch[] = ['vit', 'deit', 'clip'];

describe('float64 reference transformer', () => {
  it('im2col takes patches row-major with (c, ky, kx) columns, as Conv2d(stride = kernel) + flatten(2)', () => {
    // 1 image, 2 channels, 4×4, patch 2: value = c·100 + y·10 + x.
    const img = Float64Array.from({ length: 32 }, (_, i) => {
      const c = Math.floor(i / 16);
      const y = Math.floor((i % 16) / 4);
      const x = i % 4;
      return c * 100 + y * 10 + x;
    });
    const cols = im2col(img, 1, 2, 4, 2);
    // Patch 1 is (py 0, px 1): rows 0-1, columns 2-3.
    expect([...cols.slice(8, 16)]).toEqual([2, 3, 12, 13, 102, 103, 112, 113]);
    // Patch 2 is (py 1, px 0).
    expect([...cols.slice(16, 20)]).toEqual([20, 21, 30, 31]);
  });

  for (const arch of ARCHS) {
    it(`${arch}: logits equal an independent loop-by-loop forward, with the right shape`, () => {
      const ck = makeModel({ arch, preset: 'micro', seed: 3, init: 'varied' });
      const W = weights64(ck);
      const px = images(ck.spec, 3);
      const r = referenceForward({ spec: ck.spec, weights: W, images: px, labels: [0, 2, 1] });
      expect(r.batch).toBe(3);
      expect(r.numLabels).toBe(3);
      expect(r.logits.length).toBe(9);
      const want = naiveLogits(ck.spec, W, px, 3).flat();
      expect(relErr(r.logits, want)).toBeLessThan(1e-12);
      // Logits with 'varied' weights are far from constant: attention and biases matter.
      expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(0.1);
      expect(r.activations.get('encoder_output')!.length).toBe(3 * tokenCount(ck.spec) * ck.spec.hidden);
    });
  }

  for (const [arch, smoothing] of [
    ['vit', 0],
    ['deit', 0.1],
    ['clip', 0.2],
  ] as const) {
    it(`${arch}: every weight gradient and every ΔW gradient match central finite differences (label smoothing ${smoothing})`, () => {
      const ck = makeModel({ arch, preset: 'micro', seed: 9, init: 'varied' });
      const spec = ck.spec;
      const W = weights64(ck);
      const px = images(spec, 2, 6);
      const labels = [1, 2];
      // ΔW on two layers (one attention, one MLP) and the head, with nonzero values.
      const sites = linearSites(spec);
      const withDelta = [sites[0], sites[sites.length - 1]];
      const deltas = new Map<string, Float64Array>();
      withDelta.forEach((s, i) => deltas.set(s.module, randomArray(s.out * s.in, 4, 40 + i, { kind: 'normal', std: 0.05 })));
      deltas.set(HEAD_MODULE, randomArray(3 * spec.hidden, 4, 49, { kind: 'normal', std: 0.05 }));
      const lossOf = () => referenceForward({ spec, weights: W, images: px, labels, labelSmoothing: smoothing, delta: (m) => deltas.get(m), gradients: false }).loss!;
      const r = referenceForward({ spec, weights: W, images: px, labels, labelSmoothing: smoothing, delta: (m) => deltas.get(m) });
      expect(r.loss).toBeCloseTo(lossOf(), 14);
      expect([...r.deltaGrads.keys()].sort()).toEqual([...deltas.keys()].sort());
      const h = 1e-5;
      let worst = 0;
      let where = '';
      const check = (name: string, data: Float64Array, grad: Float64Array) => {
        let scaleMax = 0;
        for (const v of grad) scaleMax = Math.max(scaleMax, Math.abs(v));
        // A handful of entries per tensor, spread over it (first, last, and seeded picks).
        const picks = new Set([0, data.length - 1]);
        const u = randomArray(4, 17, name.length, { kind: 'uniform', lo: 0, hi: 1 });
        for (const x of u) picks.add(Math.floor(x * data.length));
        for (const j of picks) {
          const keep = data[j];
          data[j] = keep + h;
          const lp = lossOf();
          data[j] = keep - h;
          const lm = lossOf();
          data[j] = keep;
          const fd = (lp - lm) / (2 * h);
          const err = Math.abs(fd - grad[j]) / Math.max(scaleMax, 1e-3);
          if (err > worst) {
            worst = err;
            where = `${name}[${j}] fd ${fd} analytic ${grad[j]}`;
          }
        }
      };
      let checked = 0;
      for (const [name, data] of W) {
        const grad = r.grads.get(name);
        if (name.endsWith('post_layernorm.weight') || name.endsWith('post_layernorm.bias')) {
          // CLIPForImageClassification never reads post_layernorm.
          expect(grad!.every((v) => v === 0)).toBe(true);
          continue;
        }
        expect(grad, name).toBeDefined();
        check(name, data, grad!);
        checked++;
      }
      for (const [m, d] of deltas) check(`Δ${m}`, d, r.deltaGrads.get(m)!);
      expect(checked).toBe(W.size - (arch === 'clip' ? 2 : 0));
      expect(worst, where).toBeLessThan(1e-7);
    });
  }

  it('ΔW acts exactly like changing W: same logits, and its gradient is the weight gradient', () => {
    const ck = makeModel({ arch: 'vit', preset: 'micro', seed: 2, init: 'varied' });
    const W = weights64(ck);
    const px = images(ck.spec, 2);
    const site = linearSites(ck.spec)[4]; // fc1 of block 0
    const delta = randomArray(site.out * site.in, 1, 2, { kind: 'normal', std: 0.1 });
    const a = referenceForward({ spec: ck.spec, weights: W, images: px, labels: [0, 1], delta: (m) => (m === site.module ? delta : undefined) });
    const merged = new Map(W);
    merged.set(`${site.module}.weight`, W.get(`${site.module}.weight`)!.map((v, i) => v + delta[i]));
    const b = referenceForward({ spec: ck.spec, weights: merged, images: px, labels: [0, 1] });
    expect(relErr(a.logits, b.logits)).toBeLessThan(1e-14);
    expect(relErr(a.deltaGrads.get(site.module)!, b.grads.get(`${site.module}.weight`)!)).toBeLessThan(1e-14);
    // A zero ΔW leaves the logits as the base model's.
    const zero = referenceForward({ spec: ck.spec, weights: W, images: px, delta: (m) => (m === site.module ? new Float64Array(site.out * site.in) : undefined) });
    const base = referenceForward({ spec: ck.spec, weights: W, images: px });
    expect([...zero.logits]).toEqual([...base.logits]);
    expect(base.loss).toBeUndefined();
    expect(base.grads.size).toBe(0);
    // Every linear layer, the head included, can be asked for a ΔW.
    const asked: string[] = [];
    referenceForward({ spec: ck.spec, weights: W, images: px, delta: (m) => void asked.push(m) });
    expect(asked).toEqual(referenceLinearModules(ck.spec));
  });

  it('CLIP and ViT pool differently: CLS after the final layernorm vs the mean of patch tokens without post_layernorm', () => {
    for (const arch of ['vit', 'clip'] as const) {
      const ck = makeModel({ arch, preset: 'micro', seed: 4, init: 'varied' });
      const spec = ck.spec;
      const W = weights64(ck);
      const px = images(spec, 2);
      const r = referenceForward({ spec, weights: W, images: px, labels: [0, 1] });
      const T = tokenCount(spec);
      const D = spec.hidden;
      const pooled = r.activations.get('pooled')!;
      const e = embeddingNames(spec);
      if (arch === 'vit') {
        const fin = r.activations.get('final_layernorm')!;
        expect([...pooled.slice(D, 2 * D)]).toEqual([...fin.slice(T * D, T * D + D)]);
        expect(r.activations.has('pre_layernorm')).toBe(false);
        expect(r.grads.get(`${e.finalLayernorm}.weight`)!.some((v) => v !== 0)).toBe(true);
      } else {
        const enc = r.activations.get('encoder_output')!;
        for (let d = 0; d < D; d++) {
          let s = 0;
          for (let t = 1; t < T; t++) s += enc[(T + t) * D + d];
          expect(pooled[D + d]).toBeCloseTo(s / (T - 1), 13);
        }
        expect(r.activations.has('final_layernorm')).toBe(false);
        expect(r.activations.has('pre_layernorm')).toBe(true);
        // Changing post_layernorm changes nothing; changing pre_layrnorm does.
        const post = new Map(W);
        post.set(`${e.finalLayernorm}.bias`, W.get(`${e.finalLayernorm}.bias`)!.map((v) => v + 1));
        expect([...referenceForward({ spec, weights: post, images: px }).logits]).toEqual([...r.logits]);
        const pre = new Map(W);
        pre.set(`${e.preLayernorm}.bias`, W.get(`${e.preLayernorm}.bias`)!.map((v) => v + 0.1));
        expect(relErr(referenceForward({ spec, weights: pre, images: px }).logits, r.logits)).toBeGreaterThan(1e-3);
      }
    }
    // Same shapes, same values where the names correspond: the two families still disagree.
    const vit = makeModel({ arch: 'vit', preset: 'micro', seed: 4, init: 'varied' });
    const clip = makeModel({ arch: 'clip', preset: 'micro', seed: 4, init: 'varied' });
    const px = images(vit.spec, 1);
    const a = referenceForward({ spec: vit.spec, weights: weights64(vit), images: px }).logits;
    const b = referenceForward({ spec: clip.spec, weights: weights64(clip), images: px }).logits;
    expect(relErr(a, b)).toBeGreaterThan(1e-3);
  });

  it('refuses missing or mis-shaped weights and wrong image sizes, naming them', () => {
    const ck = makeModel({ arch: 'vit', preset: 'micro', seed: 1 });
    const W = weights64(ck);
    const px = images(ck.spec, 1);
    const q = `${blockModules(ck.spec, 1).query}.weight`;
    const missing = new Map(W);
    missing.delete(q);
    expect(() => referenceForward({ spec: ck.spec, weights: missing, images: px })).toThrow(q);
    const short = new Map(W);
    short.set(q, new Float64Array(3));
    expect(() => referenceForward({ spec: ck.spec, weights: short, images: px })).toThrow(/3 values/);
    expect(() => referenceForward({ spec: ck.spec, weights: W, images: px.subarray(1) })).toThrow(/images/);
    const noHead = new Map(W);
    noHead.delete('classifier.weight');
    expect(() => referenceForward({ spec: ck.spec, weights: noHead, images: px })).toThrow(/classifier\.weight/);
  });
});
