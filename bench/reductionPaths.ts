/**
 * `node scripts/run-ts.mjs bench/reductionPaths.ts [reps]`: wall time of the row-reduction kernels
 * on the plain workgroup-tree path against the subgroup path (where the device has `subgroups`),
 * interleaved over three rounds, medians printed. Shapes: layernorm forward + input backward at
 * ViT-B/16 batch 8 (1576 × 768), softmax forward + backward on rows 577 wide (ViT-L/14 at 336²:
 * attention rows of 256 or fewer take the one-invocation-per-row path, which has no cross-lane
 * reduction), cross-entropy on (16, 1000) logits. Opt-in: not part of `npm run bench`.
 */
import { performance } from 'node:perf_hooks';
import { nodeGpu } from '../src/gpu/node';
import { Tensor } from '../src/engine/tensor';
import { layerNorm, layerNormBackward } from '../src/engine/ops/layernorm';
import { softmaxRowsBackwardInPlace, softmaxRowsInPlace } from '../src/engine/ops/attention';
import { crossEntropy, labelTensor } from '../src/engine/ops/crossEntropy';

const reps = Number(process.argv[2] ?? 10);
const { ctx, summary } = await nodeGpu();
if (!summary.features.includes('subgroups')) {
  console.error(`${summary.description || summary.device}: no "subgroups" feature, nothing to compare`);
  process.exit(1);
}
const data = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 2);
const [R, D] = [8 * 197, 768];
const x = Tensor.from(ctx, [R, D], data(R * D));
const w = Tensor.from(ctx, [D], data(D));
const b = Tensor.from(ctx, [D], data(D));
const dy = Tensor.from(ctx, [R, D], data(R * D));
const fwd = layerNorm(x, w, b, 1e-12);
const [SR, SC] = [2 * 577, 577];
const s = Tensor.from(ctx, [SR, SC], data(SR * SC));
const ds = Tensor.from(ctx, [SR, SC], data(SR * SC));
const [B, C] = [16, 1000];
const logits = Tensor.from(ctx, [B, C], data(B * C));
const labels = labelTensor(ctx, Array.from({ length: B }, (_, i) => (i * 37) % C), C);

const cases: Record<string, () => void> = {
  [`layernorm fwd+bwd ${R}x${D}`]: () => {
    layerNorm(x, w, b, 1e-12, { out: fwd.y, mean: fwd.mean, rstd: fwd.rstd });
    layerNormBackward(dy, x, w, fwd, { dx: fwd.y });
  },
  [`softmax fwd+bwd ${SR}x${SC}`]: () => {
    softmaxRowsInPlace(s);
    softmaxRowsBackwardInPlace(s, ds);
  },
  [`cross-entropy ${B}x${C}`]: () => {
    const r = crossEntropy(logits, labels);
    for (const t of [r.losses, r.predictions, r.stats, r.dlogits!]) t.release();
  },
};
const times: Record<string, number[]> = {};
for (let round = 0; round < 3; round++) {
  // Alternate which path goes first, so neither always follows the other.
  for (const subgroups of round % 2 ? [true, false] : [false, true]) {
    ctx.subgroupReductions = subgroups;
    for (const [name, run] of Object.entries(cases)) {
      run(); // compile
      await ctx.flush();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) run();
      await ctx.flush();
      (times[`${name} ${subgroups ? 'subgroups' : 'plain'}`] ??= []).push((performance.now() - t0) / reps);
    }
  }
}
console.log(`${[summary.vendor, summary.architecture, summary.description].filter(Boolean).join(' / ')}; ${reps} launches per timing, 3 rounds`);
for (const [k, v] of Object.entries(times)) {
  const median = [...v].sort((p, q) => p - q)[1];
  console.log(`${k}: median ${median.toFixed(2)} ms (${v.map((t) => t.toFixed(2)).join(', ')})`);
}
ctx.destroy();
process.exit(0);
