/**
 * The two GPU kernels of aTLAS (compose.wgsl): a block's composed weights in one pass, and the
 * coefficient gradients ∂L/∂λ_{t,b,k} = Σ_{e: g(e)=k} ∂L/∂θ_b[e]·τ_t^(b)[e] as a two-stage
 * reduction. Float64 references in reference.ts.
 */
import composeWgsl from './compose.wgsl';
import { gridFold, kernelCode, uniforms } from '../engine/ops/kernel';
import { RANDOM_WGSL } from '../engine/randomTensor';
import { Tensor } from '../engine/tensor';
import { groupStream } from './groups';

/** Elements one workgroup of the first gradient stage sums (16 per lane). */
export const GRAD_CHUNK = 4096;

const code = (mode: 'COMPOSE' | 'GRAD_PARTIAL' | 'GRAD_FINAL') =>
  kernelCode(composeWgsl, { COMPOSE: mode === 'COMPOSE', GRAD_PARTIAL: mode === 'GRAD_PARTIAL', GRAD_FINAL: mode === 'GRAD_FINAL' }, 'compose.wgsl', {
    key: 'random.wgsl',
    code: RANDOM_WGSL,
  });

/** Where one block sits in the composition. */
export interface BlockLayout {
  /** Index of the block (seeds its groups). */
  block: number;
  /** Elements of the block. */
  n: number;
  /** T, the number of task vectors. */
  tasks: number;
  /** K of aTLAS×K. */
  groups: number;
  seed: number;
}

function params(l: BlockLayout, chunks = 0): ArrayBuffer {
  const { buffer, u } = uniforms(8);
  u.set([l.n, l.tasks, l.groups, l.seed >>> 0, groupStream(l.block), l.block * l.tasks * l.groups, GRAD_CHUNK, chunks]);
  return buffer;
}

function check(l: BlockLayout, tau: Tensor, lambda: Tensor): void {
  if (tau.size !== l.tasks * l.n) throw new Error(`compose: block ${l.block}'s task vectors hold ${tau.size} values, expected ${l.tasks} × ${l.n}`);
  if (lambda.size < (l.block + 1) * l.tasks * l.groups) throw new Error(`compose: the coefficients hold ${lambda.size} values, too few for block ${l.block} (${l.tasks} tasks × ${l.groups} groups)`);
}

/** θ = θ₀ + Σ_t λ[b, t, g(e)]·τ[t, e], written into `theta` (n values), in one launch. */
export function composeBlock(l: BlockLayout, theta0: Tensor, tau: Tensor, lambda: Tensor, theta: Tensor): void {
  check(l, tau, lambda);
  if (theta0.size !== l.n || theta.size !== l.n) throw new Error(`compose: block ${l.block} has ${l.n} values, θ₀ ${theta0.size} and θ ${theta.size}`);
  theta.ctx.launch({
    op: 'compose',
    shapes: { n: l.n, tasks: l.tasks, groups: l.groups },
    code: code('COMPOSE'),
    uniforms: params(l),
    bindings: [
      { buffer: theta0.buffer, access: 'read' },
      { buffer: tau.buffer, access: 'read' },
      { buffer: lambda.buffer, access: 'read' },
      { buffer: theta.buffer, access: 'write' },
    ],
    workgroups: gridFold(Math.ceil(l.n / 256)),
  });
}

/**
 * grad[b, t, k] = Σ_{e: g(e)=k} dθ[e]·τ[t, e] for this block, written into its slice of `grad`
 * (the (blocks, T, K) gradient of the coefficients); the other blocks' slices are untouched.
 */
export function composeGradBlock(l: BlockLayout, dTheta: Tensor, tau: Tensor, grad: Tensor): void {
  check(l, tau, grad);
  if (dTheta.size !== l.n) throw new Error(`compose: block ${l.block}'s gradient holds ${dTheta.size} values, expected ${l.n}`);
  const ctx = dTheta.ctx;
  const chunks = Math.ceil(l.n / GRAD_CHUNK);
  if (chunks > 65535 || l.groups > 65535) throw new Error(`compose: block ${l.block} (${l.n} values, ${l.groups} groups) is too large for one gradient reduction`);
  const partial = Tensor.empty(ctx, [l.tasks * l.groups * chunks], 'compose-partials');
  const u = params(l, chunks);
  ctx.launch({
    op: 'compose_grad_partial',
    shapes: { n: l.n, tasks: l.tasks, groups: l.groups, chunks },
    code: code('GRAD_PARTIAL'),
    uniforms: u,
    bindings: [
      { buffer: dTheta.buffer, access: 'read' },
      { buffer: tau.buffer, access: 'read' },
      { buffer: partial.buffer, access: 'write' },
    ],
    workgroups: [chunks, l.groups],
  });
  ctx.launch({
    op: 'compose_grad_final',
    shapes: { tasks: l.tasks, groups: l.groups, chunks },
    code: code('GRAD_FINAL'),
    uniforms: u,
    bindings: [
      { buffer: partial.buffer, access: 'read' },
      { buffer: grad.buffer, access: 'write' },
    ],
    workgroups: [l.tasks * l.groups],
  });
  partial.release();
}
