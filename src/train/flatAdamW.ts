/**
 * AdamW and gradient clipping over all of a run's trainables in O(1) launches per step, however
 * many tensors there are (LoRA on six targets in twelve blocks has 144).
 *
 * The moments m and v of every trainable live as slices of two flat buffers, for the whole run.
 * Each step, the gradients are copied into a flat gradient buffer as they come off the tape
 * (copies, not launches: a copy needs no pipeline, bind group or uniform), the global norm is one
 * partial-sums launch and one final launch over that buffer, and the update is one adamw_multi
 * launch over flat copies of the parameters, whose slices are then copied back into the tensors
 * the model reads. The tensors stay the model's (no engine op needs to know about offsets), and
 * the flat parameter and gradient buffers are pooled scratch that exist only from the end of the
 * backward to the end of the update, when activations are already freed.
 *
 * Per element the update is adamWStep's arithmetic with the tensor's own lr and decay, so the
 * result equals per-tensor AdamW bit for bit; the norm sums the squares in a fixed order
 * (partialsPerTensor strided partials, then a tree), so a run is deterministic.
 */
import type { GpuContext } from '../gpu/context';
import { accumulate } from '../engine/ops/elementwise';
import { adamWStepMulti, gradNorm, type AdamWMultiOptions, type AdamWState, type GradNormOptions } from '../engine/ops/optimizer';
import { Tensor } from '../engine/tensor';

/** Partial sums for the norm over the flat gradient: enough workgroups for a GPU, in a fixed order. */
const NORM_PARTIALS = 256;

export class FlatAdamW {
  /** Element offset of each tensor's slice in the flat buffers. */
  readonly offsets: readonly number[];
  readonly total: number;
  /** The moments of every tensor, slice by slice (the tensors' AdamW state). */
  readonly state: AdamWState;
  private grad: Tensor | undefined;
  /** Gradients of the current micro-batch after the first, summed into `grad` at its end. */
  private pending: Tensor | undefined;
  /** Which tensors have a gradient this step, and which in the current later micro-batch. */
  private present: boolean[];
  private pendingPresent: boolean[];
  private micro = 0;

  constructor(
    readonly ctx: GpuContext,
    readonly tensors: readonly Tensor[],
    label = 'adam',
  ) {
    const offsets: number[] = [];
    let total = 0;
    for (const t of tensors) {
      offsets.push(total);
      total += t.size;
    }
    this.offsets = offsets;
    this.total = total;
    this.state = { m: Tensor.zeros(ctx, [Math.max(1, total)], `${label}-m`), v: Tensor.zeros(ctx, [Math.max(1, total)], `${label}-v`) };
    this.present = tensors.map(() => false);
    this.pendingPresent = tensors.map(() => false);
  }

  private flat(label: string): Tensor {
    return Tensor.empty(this.ctx, [Math.max(1, this.total)], label);
  }

  private copyInto(dst: Tensor, i: number, src: Tensor): void {
    const t = this.tensors[i];
    if (src.size !== t.size) throw new Error(`FlatAdamW: the gradient of "${t.label}" holds ${src.size} values, the tensor ${t.size}`);
    if (t.size > 0) this.ctx.copy(src.buffer, 0, dst.buffer, this.offsets[i] * 4, t.size * 4);
  }

  /** Adds tensor i's gradient of the current micro-batch; takes ownership of `g` (released here). */
  addGrad(i: number, g: Tensor): void {
    if (this.micro === 0) {
      this.grad ??= this.flat('flat-grad');
      if (this.present[i]) throw new Error(`FlatAdamW: a second gradient for "${this.tensors[i].label}" in one micro-batch`);
      this.copyInto(this.grad, i, g);
      this.present[i] = true;
    } else {
      this.pending ??= this.flat('flat-grad-micro');
      if (this.pendingPresent[i]) throw new Error(`FlatAdamW: a second gradient for "${this.tensors[i].label}" in one micro-batch`);
      this.copyInto(this.pending, i, g);
      this.pendingPresent[i] = true;
    }
    g.release();
  }

  /** Ends a micro-batch: a later one's gradients are summed into the step's in one launch. */
  endMicroBatch(): void {
    if (this.micro > 0 && this.pending) {
      this.grad ??= this.flat('flat-grad');
      this.tensors.forEach((t, i) => {
        // Slices no gradient reached read as 0, here and (first time present) in the sum.
        if (!this.pendingPresent[i] && t.size > 0) this.ctx.clear(this.pending!.buffer, this.offsets[i] * 4, t.size * 4);
        if (this.pendingPresent[i] && !this.present[i] && t.size > 0) this.ctx.clear(this.grad!.buffer, this.offsets[i] * 4, t.size * 4);
      });
      // Elementwise acc + g, as summing each tensor's gradient alone would.
      accumulate(this.grad, this.pending);
      this.pending.release();
      this.pending = undefined;
      this.pendingPresent.forEach((p, i) => {
        if (p) this.present[i] = true;
      });
      this.pendingPresent.fill(false);
    }
    this.micro++;
  }

  /** Whether tensor i got a gradient this step. */
  hasGrad(i: number): boolean {
    return this.present[i];
  }

  /**
   * The global L2 norm of this step's gradients (see gradNorm; tensors no gradient reached count
   * as 0). Call after the last micro-batch and before `update`.
   */
  gradNorm(opts: Omit<GradNormOptions, 'partialsPerTensor'>): Tensor {
    this.grad ??= this.flat('flat-grad');
    this.present.forEach((p, i) => {
      if (!p && this.tensors[i].size > 0) this.ctx.clear(this.grad!.buffer, this.offsets[i] * 4, this.tensors[i].size * 4);
    });
    return gradNorm([this.grad], { ...opts, partialsPerTensor: NORM_PARTIALS });
  }

  /**
   * One AdamW update of every tensor that got a gradient this step, each with its own lr and
   * decay (`hyper(i)`); the others keep their values and moments. Ends the step.
   */
  update(hyper: (i: number) => { lr: number; weightDecay: number }, o: AdamWMultiOptions): void {
    const grad = this.grad;
    this.grad = undefined;
    this.micro = 0;
    const present = this.present;
    this.present = this.tensors.map(() => false);
    if (!grad) return;
    const params = this.flat('flat-params');
    this.tensors.forEach((t, i) => {
      if (present[i] && t.size > 0) this.ctx.copy(t.buffer, 0, params.buffer, this.offsets[i] * 4, t.size * 4);
    });
    const segments = this.tensors.map((t, i) => ({ offset: this.offsets[i], size: t.size, active: present[i], ...hyper(i) }));
    adamWStepMulti(params, grad, this.state, segments, o);
    this.tensors.forEach((t, i) => {
      if (present[i] && t.size > 0) this.ctx.copy(params.buffer, this.offsets[i] * 4, t.buffer, 0, t.size * 4);
    });
    params.release();
    grad.release();
  }

  /** Tensor i's moments, read back (for a checkpoint). */
  async readState(i: number): Promise<{ m: Float32Array; v: Float32Array }> {
    const n = this.tensors[i].size;
    if (n === 0) return { m: new Float32Array(0), v: new Float32Array(0) };
    return { m: await this.ctx.readF32(this.state.m.buffer, n, this.offsets[i]), v: await this.ctx.readF32(this.state.v.buffer, n, this.offsets[i]) };
  }

  /** Puts tensor i's moments back (from a checkpoint). */
  writeState(i: number, m: Float32Array, v: Float32Array): void {
    const n = this.tensors[i].size;
    if (m.length !== n || v.length !== n) throw new Error(`FlatAdamW: moments of ${m.length} and ${v.length} values for "${this.tensors[i].label}", which has ${n}`);
    if (n === 0) return;
    this.ctx.upload(this.state.m.buffer, m, this.offsets[i] * 4);
    this.ctx.upload(this.state.v.buffer, v, this.offsets[i] * 4);
  }

  release(): void {
    this.grad?.release();
    this.pending?.release();
    this.grad = this.pending = undefined;
    this.state.m.release();
    this.state.v.release();
  }
}
