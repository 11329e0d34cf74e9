/**
 * Test helpers for the export/import tests: a seeded model with a method's adapters whose
 * trainables and head have been moved off their initial values, and a forward pass to compare.
 */
import { loadMethod, METHOD_IDS, METHODS, methodRuntime, type MethodId } from '../../methods/registry';
import { Tape } from '../../engine/tape';
import { Tensor } from '../../engine/tensor';
import type { GpuContext } from '../../gpu/context';
import { makeModel, type GeneratedCheckpoint, type MakeModelOptions } from '../../models/makeModel';
import { VisionTransformer, type WeightSource, type ZeroShotHeadWeights } from '../../models/vision';
import { testData } from '../../testing/gpu';
import type { ExportableRun } from './layout';

// Every method's GPU half, so testRun can build any of them synchronously.
await Promise.all(METHOD_IDS.map((id) => loadMethod(id)));

export interface TestRun extends ExportableRun {
  made: GeneratedCheckpoint;
  release(): void;
}

export const LABELS = ['cat', 'dog', 'bird'];

export function testCheckpoint(opts: Partial<MakeModelOptions> = {}): GeneratedCheckpoint {
  return makeModel({ arch: 'vit', preset: 'micro', seed: 7, init: 'varied', labels: [...LABELS], ...opts });
}

/** A run of `method` on `made`; `perturb` moves every trainable (and the head) to seeded random values. */
export function testRun(
  ctx: GpuContext,
  made: GeneratedCheckpoint,
  method: MethodId,
  methodConfig: Record<string, unknown>,
  targets: string[],
  opts: { seed?: number; perturb?: number; numLabels?: number; weights?: ReadonlyMap<string, WeightSource>; zeroShot?: ZeroShotHeadWeights } = {},
): TestRun {
  const model = new VisionTransformer(ctx, made.spec, opts.weights ?? made.tensors, { numLabels: opts.numLabels ?? LABELS.length, seed: 1, zeroShot: opts.zeroShot });
  const m = METHODS[method];
  const runtime = methodRuntime(method);
  const seed = opts.seed ?? 3;
  const config = { method, methodConfig, targets, seed };
  const adapters = runtime.create(ctx, { ...m.defaults, ...methodConfig }, m.usesTargets ? model.targetLayers(targets) : [], seed);
  if (opts.perturb !== undefined) {
    let s = opts.perturb;
    for (const a of adapters.layers.values()) {
      for (const t of a.trainables) ctx.upload(t.tensor.buffer, Float32Array.from(testData(t.tensor.size, s++, -0.3, 0.3)));
    }
    for (const t of model.headParams()) ctx.upload(t.buffer, Float32Array.from(testData(t.size, s++, -0.5, 0.5)));
  }
  return {
    model,
    adapters,
    config,
    made,
    release() {
      adapters.release();
      model.release();
    },
  };
}

export function testImages(size: number, batch = 2): Float32Array {
  return Float32Array.from(testData(batch * 3 * size * size, 99));
}

/** Logits of a forward pass without gradients. */
export async function logitsOf(run: Pick<ExportableRun, 'model' | 'adapters'>, images: Float32Array, withAdapters = true): Promise<Float32Array> {
  const S = run.model.spec.imageSize;
  const pixels = Tensor.from(run.model.ctx, [images.length / (3 * S * S), 3, S, S], images);
  const tape = new Tape();
  const logits = run.model.forward(tape, pixels, withAdapters ? run.adapters : undefined);
  const out = await logits.read();
  tape.clear();
  pixels.release();
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
