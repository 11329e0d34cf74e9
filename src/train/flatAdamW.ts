/**
 * AdamW and gradient clipping over all of a run's trainables in O(1) launches per step, however
 * many tensors there are (LoRA on six targets in twelve blocks has 144).
 *
 * The moments m and v of every small trainable (all of an adapter method's, and all of full
 * fine-tuning's on the demo model) live as slices of two flat buffers, for the whole run.
 * Each step, the gradients are copied into a flat gradient buffer as they come off the tape
 * (copies, not launches: a copy needs no pipeline, bind group or uniform), the global norm is one
 * launch over that buffer (a partial-sums and a final launch past 65,536 values or with tensors
 * updated on their own, below), and the update is one adamw_multi
 * launch over flat copies of the parameters, whose slices are then copied back into the tensors
 * the model reads. The tensors stay the model's (no engine op needs to know about offsets), and
 * the flat parameter and gradient buffers are pooled scratch that exist only from the end of the
 * backward to the end of the update, when activations are already freed.
 *
 * Per element the update is adamWStep's arithmetic with the tensor's own lr and decay, so the
 * result equals per-tensor AdamW bit for bit; the norm sums the squares in a fixed order
 * (strided partials, then a tree), so a run is deterministic.
 *
 * Tensors of at least `directMin` values (full fine-tuning's weight matrices at ViT-S/B sizes)
 * keep their own moments and gradient and get their own norm and AdamW launch, as before: there
 * a launch's host cost is small beside its work, and copying such tensors in and out would cost
 * two more parameter-sized buffers and their memory traffic.
 */
import type { GpuContext } from '../gpu/context';
import { accumulate } from '../engine/ops/elementwise';
import { adamWState, adamWStep, adamWStepMulti, gradNorm, type AdamWMultiOptions, type AdamWState, type GradNormOptions } from '../engine/ops/optimizer';
import { Tensor } from '../engine/tensor';

/** Partial sums per tensor for the norm: enough workgroups for a GPU over the flat gradient, in a fixed order. */
const NORM_PARTIALS = 256;

/** Tensors this large (256 KiB of f32: a 256×256 matrix) or larger are updated on their own (see above). */
export const DIRECT_MIN = 1 << 16;

export class FlatAdamW {
  /** Element offset of each tensor's slice in the flat buffers; -1 for a tensor updated on its own. */
  readonly offsets: readonly number[];
  /** Values in the flat buffers. */
  readonly total: number;
  /** The moments of the flat tensors, slice by slice. */
  readonly state: AdamWState;
  /** Own moments and this step's gradient of each tensor updated on its own (by index). */
  private readonly direct = new Map<number, { state: AdamWState; grad?: Tensor }>();
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
    opts: { label?: string; directMin?: number } = {},
  ) {
    const label = opts.label ?? 'adam';
    const directMin = opts.directMin ?? DIRECT_MIN;
    const offsets: number[] = [];
    let total = 0;
    tensors.forEach((t, i) => {
      if (t.size >= directMin) {
        offsets.push(-1);
        this.direct.set(i, { state: adamWState(t) });
        return;
      }
      offsets.push(total);
      total += t.size;
    });
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
    const own = this.direct.get(i);
    if (own) {
      if (own.grad) {
        accumulate(own.grad, g);
        g.release();
      } else own.grad = g;
      return;
    }
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
      this.flatTensors().forEach(([t, i]) => {
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

  private flatTensors(): Array<[Tensor, number]> {
    return this.tensors.flatMap((t, i) => (this.direct.has(i) ? [] : [[t, i] as [Tensor, number]]));
  }

  /**
   * The global L2 norm of this step's gradients (see gradNorm; tensors no gradient reached count
   * as 0). Call after the last micro-batch and before `update`.
   */
  gradNorm(opts: Omit<GradNormOptions, 'partialsPerTensor'>): Tensor {
    const own = [...this.direct.values()].flatMap((d) => (d.grad ? [d.grad] : []));
    if (this.total > 0 || own.length === 0) {
      this.grad ??= this.flat('flat-grad');
      for (const [t, i] of this.flatTensors()) {
        if (!this.present[i] && t.size > 0) this.ctx.clear(this.grad.buffer, this.offsets[i] * 4, t.size * 4);
      }
      if (this.total === 0) this.ctx.clear(this.grad.buffer, 0, 4);
    }
    return gradNorm(this.grad ? [this.grad, ...own] : own, { ...opts, partialsPerTensor: NORM_PARTIALS });
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
    for (const [i, d] of this.direct) {
      if (!d.grad) continue;
      adamWStep(this.tensors[i], d.grad, d.state, { ...o, ...hyper(i) });
      d.grad.release();
      d.grad = undefined;
    }
    if (!grad) return;
    const flat = this.flatTensors().filter(([t, i]) => present[i] && t.size > 0);
    if (flat.length > 0) {
      const params = this.flat('flat-params');
      for (const [t, i] of flat) this.ctx.copy(t.buffer, 0, params.buffer, this.offsets[i] * 4, t.size * 4);
      const segments = this.flatTensors().map(([t, i]) => ({ offset: this.offsets[i], size: t.size, active: present[i], ...hyper(i) }));
      adamWStepMulti(params, grad, this.state, segments, o);
      for (const [t, i] of flat) this.ctx.copy(params.buffer, this.offsets[i] * 4, t.buffer, 0, t.size * 4);
      params.release();
    }
    grad.release();
  }

  /** Tensor i's moments, read back (for a checkpoint). */
  async readState(i: number): Promise<{ m: Float32Array; v: Float32Array }> {
    const own = this.direct.get(i);
    if (own) return { m: await own.state.m.read(), v: await own.state.v.read() };
    const n = this.tensors[i].size;
    if (n === 0) return { m: new Float32Array(0), v: new Float32Array(0) };
    return { m: await this.ctx.readF32(this.state.m.buffer, n, this.offsets[i]), v: await this.ctx.readF32(this.state.v.buffer, n, this.offsets[i]) };
  }

  /** Puts tensor i's moments back (from a checkpoint). */
  writeState(i: number, m: Float32Array, v: Float32Array): void {
    const n = this.tensors[i].size;
    if (m.length !== n || v.length !== n) throw new Error(`FlatAdamW: moments of ${m.length} and ${v.length} values for "${this.tensors[i].label}", which has ${n}`);
    const own = this.direct.get(i);
    if (own) {
      this.ctx.upload(own.state.m.buffer, m);
      this.ctx.upload(own.state.v.buffer, v);
      return;
    }
    if (n === 0) return;
    this.ctx.upload(this.state.m.buffer, m, this.offsets[i] * 4);
    this.ctx.upload(this.state.v.buffer, v, this.offsets[i] * 4);
  }

  release(): void {
    this.grad?.release();
    this.pending?.release();
    this.grad = this.pending = undefined;
    for (const d of this.direct.values()) for (const t of [d.state.m, d.state.v, d.grad]) t?.release();
    this.direct.clear();
    this.state.m.release();
    this.state.v.release();
  }
}
