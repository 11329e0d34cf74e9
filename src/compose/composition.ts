/**
 * aTLAS's learned composition as a trainer `ParamTransform`: the task vectors stay resident on the
 * GPU (one (T, n) buffer per block, with a copy of θ₀), the coefficients λ are one
 * (blocks, T, K) tensor initialised at 0, and before every forward pass each block's weights are
 * written from them in one launch; the backward's ∂L/∂θ per block becomes ∂L/∂λ through the
 * reduction kernel. Only λ (and the run's head) train.
 */
import type { GpuContext } from '../gpu/context';
import { Tensor } from '../engine/tensor';
import type { VisionTransformer } from '../models/vision';
import type { ParamTransform } from '../train/trainer';
import { composeBlock, composeGradBlock, type BlockLayout } from './kernels';
import type { TaskVectorBlock } from './taskVectors';

export const LAMBDA_NAME = 'compose.lambda';

/** τ_t = θ_t − θ₀ of one block as one (T, n) f32 array. */
export function taskVectorArray(b: TaskVectorBlock): Float32Array {
  const out = new Float32Array(b.thetas.length * b.n);
  b.thetas.forEach((th, t) => {
    for (let e = 0; e < b.n; e++) out[t * b.n + e] = th[e] - b.theta0[e];
  });
  return out;
}

/** The GPU memory a composition keeps besides the model: θ₀ and T task vectors per block, λ with its gradient and two moments. */
export function compositionBytes(blocks: ReadonlyArray<{ n: number }>, tasks: number, groups: number): { taskVectorBytes: number; baseCopyBytes: number; coefficientBytes: number } {
  const n = blocks.reduce((s, b) => s + b.n, 0);
  return { taskVectorBytes: 4 * tasks * n, baseCopyBytes: 4 * n, coefficientBytes: 4 * 4 * blocks.length * tasks * groups };
}

export class Composition implements ParamTransform {
  readonly lambda: Tensor;
  readonly trainables: ReadonlyArray<{ name: string; tensor: Tensor; decay: boolean }>;
  readonly writes: Tensor[];
  private readonly theta0: Tensor[];
  private readonly tau: Tensor[];
  private readonly layouts: BlockLayout[];

  /**
   * Uploads θ₀ and the task vectors of `blocks` and binds them to `model`'s tensors of the same
   * names. `learn` false makes a fixed composition (no trainables; the trainer's ordinary path).
   */
  constructor(
    readonly ctx: GpuContext,
    model: VisionTransformer,
    readonly blocks: readonly TaskVectorBlock[],
    readonly groups: number,
    readonly seed: number,
    opts: { init?: number; learn?: boolean } = {},
  ) {
    const T = blocks[0]?.thetas.length ?? 0;
    this.layouts = blocks.map((b, i) => ({ block: i, n: b.n, tasks: T, groups, seed }));
    this.writes = blocks.map((b) => model.param(b.name));
    this.lambda = Tensor.from(ctx, [blocks.length, T, groups], new Float32Array(blocks.length * T * groups).fill(opts.init ?? 0), LAMBDA_NAME);
    this.theta0 = [];
    this.tau = [];
    for (const b of blocks) {
      this.theta0.push(Tensor.from(ctx, [b.n], b.theta0, `${b.name}#theta0`));
      this.tau.push(Tensor.from(ctx, [T, b.n], taskVectorArray(b), `${b.name}#tau`));
    }
    // Coefficients are not matrices: AdamW's decay pulls them to 0 (the base), as aTLAS's recipe does.
    this.trainables = opts.learn === false ? [] : [{ name: LAMBDA_NAME, tensor: this.lambda, decay: true }];
  }

  get tasks(): number {
    return this.lambda.shape[1];
  }

  apply(): void {
    this.layouts.forEach((l, i) => composeBlock(l, this.theta0[i], this.tau[i], this.lambda, this.writes[i]));
  }

  gradients(dWrites: ReadonlyArray<Tensor | undefined>): Tensor[] {
    const grad = Tensor.zeros(this.ctx, this.lambda.shape, `${LAMBDA_NAME}#grad`);
    this.layouts.forEach((l, i) => {
      const d = dWrites[i];
      if (d) composeGradBlock(l, d, this.tau[i], grad);
    });
    return [grad];
  }

  /** Sets λ (blocks·T·K values, [block][task][group]). */
  setLambda(values: Float32Array): void {
    this.ctx.upload(this.lambda.buffer, values);
  }

  release(): void {
    this.lambda.release();
    for (const t of [...this.theta0, ...this.tau]) t.release();
  }
}
