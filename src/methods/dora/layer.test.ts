import { describe, expect, it } from 'vitest';
import { f32Data, useGpu } from '../../testing/gpu';
import { matmul } from '../../engine/ops/matmul';
import { mat, maxRelError, type Mat } from '../../engine/reference/linalg';
import { Tensor } from '../../engine/tensor';
import { LORA_DEFAULTS, loraScaling } from '../lora/layer';
import { doraBackward, doraForward, doraInit, doraMerge, type DoraLayer } from './layer';
import { doraForward64, doraGrads64, doraLoss64, doraMerged64, rowNorms64, adapted64, type DoraRef } from './reference';

const gpu = useGpu();

function ref(O: number, I: number, r: number, seed: number, bias: boolean): DoraRef {
  const m = Float64Array.from(f32Data(O, seed + 4), (v) => 1 + 0.5 * v);
  return {
    W0: mat(O, I, f32Data(O * I, seed)),
    bias: bias ? f32Data(O, seed + 1) : undefined,
    A: mat(r, I, f32Data(r * I, seed + 2)),
    B: mat(O, r, f32Data(O * r, seed + 3)),
    scale: 0.75,
    m,
  };
}

describe('DoRA float64 reference', () => {
  it('analytic gradients (norm detached) match central differences of the loss with the norm held fixed', () => {
    const p = ref(5, 4, 2, 1, true);
    const x = mat(3, 4, f32Data(12, 7));
    const G = mat(3, 5, f32Data(15, 8));
    const g = doraGrads64(x, G, p);
    const n = rowNorms64(adapted64(p));
    const eps = 1e-6;
    const check = (values: Float64Array, grad: Float64Array) => {
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        values[i] = v + eps;
        const lp = doraLoss64(x, G, p, n);
        values[i] = v - eps;
        const lm = doraLoss64(x, G, p, n);
        values[i] = v;
        expect(Math.abs((lp - lm) / (2 * eps) - grad[i])).toBeLessThan(1e-6 * (1 + Math.abs(grad[i])));
      }
    };
    check(p.A.data, g.dA.data);
    check(p.B.data, g.dB.data);
    check(p.m, g.dm);
    check(x.data, g.dx.data);
  });

  it('differs from the gradient through the norm (PEFT detaches it), so the check above can tell them apart', () => {
    const p = ref(5, 4, 2, 1, false);
    const x = mat(3, 4, f32Data(12, 7));
    const G = mat(3, 5, f32Data(15, 8));
    const g = doraGrads64(x, G, p);
    const eps = 1e-6;
    const v = p.A.data[0];
    p.A.data[0] = v + eps;
    const lp = doraLoss64(x, G, p);
    p.A.data[0] = v - eps;
    const lm = doraLoss64(x, G, p);
    p.A.data[0] = v;
    expect(Math.abs((lp - lm) / (2 * eps) - g.dA.data[0])).toBeGreaterThan(1e-4);
  });
});

function upload(ctx: Tensor['ctx'], m: Mat): Tensor {
  return Tensor.from(ctx, [m.rows, m.cols], Float32Array.from(m.data));
}

describe.each([
  { O: 33, I: 20, r: 4, N: 7, bias: true },
  { O: 20, I: 65, r: 3, N: 13, bias: false },
])('DoRA on the GPU, $O×$I r=$r N=$N', ({ O, I, r, N, bias }) => {
  it('starts at W0 (m = row norms of W0, B = 0)', async () => {
    const { ctx } = gpu();
    const p = ref(O, I, r, 3, bias);
    const W0 = upload(ctx, p.W0);
    const layer = doraInit(ctx, W0, undefined, 5, 0, { ...LORA_DEFAULTS, r });
    expect(maxRelError(await layer.magnitude.read(), rowNorms64(p.W0))).toBeLessThan(1e-5);
    const merged = doraMerge(layer);
    expect(maxRelError(await merged.read(), p.W0.data)).toBeLessThan(1e-5);
    for (const t of [W0, merged, layer.lora.A, layer.lora.B, layer.magnitude]) t.release();
  });

  it('forward, merge and backward (A, B, m, dx) agree with the float64 reference', async () => {
    const { ctx } = gpu();
    const p = ref(O, I, r, 11, bias);
    p.scale = loraScaling({ r, alpha: 2 * r, rslora: false });
    const W0 = upload(ctx, p.W0);
    const b = p.bias ? Tensor.from(ctx, [O], Float32Array.from(p.bias)) : undefined;
    const layer: DoraLayer = {
      lora: { A: upload(ctx, p.A), B: upload(ctx, p.B), scale: p.scale },
      magnitude: Tensor.from(ctx, [O], Float32Array.from(p.m)),
      W0,
      bias: b,
    };
    const x64 = mat(N, I, f32Data(N * I, 21));
    const G64 = mat(N, O, f32Data(N * O, 22));
    const x = upload(ctx, x64);
    const dY = upload(ctx, G64);
    const y = matmul(x, W0, { transB: true, bias: b });
    const saved = doraForward(x, layer, y);
    expect(maxRelError(await y.read(), doraForward64(x64, p).data)).toBeLessThan(1e-4);
    const merged = doraMerge(layer);
    expect(maxRelError(await merged.read(), doraMerged64(p).data)).toBeLessThan(1e-4);

    const dx = matmul(dY, W0);
    const g = doraBackward(x, dY, layer, saved, { dx });
    const want = doraGrads64(x64, G64, p);
    expect(maxRelError(await g.dA.read(), want.dA.data)).toBeLessThan(1e-4);
    expect(maxRelError(await g.dB.read(), want.dB.data)).toBeLessThan(1e-4);
    expect(maxRelError(await g.dMagnitude.read(), want.dm)).toBeLessThan(1e-4);
    expect(maxRelError(await dx.read(), want.dx.data)).toBeLessThan(1e-4);
    for (const t of [W0, x, dY, y, merged, dx, g.dA, g.dB, g.dMagnitude, saved.h, saved.base, saved.norm, layer.lora.A, layer.lora.B, layer.magnitude]) t.release();
    b?.release();
  });
});
