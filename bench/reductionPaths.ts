/**
 * `node scripts/run-ts.mjs bench/reductionPaths.ts [reps]`: wall time of the row-reduction kernels
 * on the plain workgroup-tree path against the subgroup path (where the device has `subgroups`),
 * interleaved over three rounds, medians printed. Shapes: layernorm forward + input backward at
 * ViT-B/16 batch 8 (1576 × 768), cross-entropy on (16, 1000) logits. Attention's softmax has no
 * row reduction to compare: the fused kernel keeps each query row's running max and sum in one
 * invocation (shaders/attention.wgsl). Opt-in: not part of `npm run bench`.
 */
import { performance } from 'node:perf_hooks';
import { nodeGpu } from '../src/gpu/node';
import { Tensor } from '../src/engine/tensor';
import { layerNorm, layerNormBackward } from '../src/engine/ops/layernorm';
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
const [B, C] = [16, 1000];
const logits = Tensor.from(ctx, [B, C], data(B * C));
const labels = labelTensor(ctx, Array.from({ length: B }, (_, i) => (i * 37) % C), C);

const cases: Record<string, () => void> = {
  [`layernorm fwd+bwd ${R}x${D}`]: () => {
    layerNorm(x, w, b, 1e-12, { out: fwd.y, mean: fwd.mean, rstd: fwd.rstd });
    layerNormBackward(dy, x, w, fwd, { dx: fwd.y });
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
