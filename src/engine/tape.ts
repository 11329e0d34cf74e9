import { accumulate, add, copy } from './ops/elementwise';
import type { Tensor } from './tensor';

/**
 * Reverse-mode autodiff over GPU tensors, kept deliberately small. Forward code calls `record`
 * after each op with the op's inputs, outputs and a closure that computes input gradients from
 * `grad(output)`. An op is recorded only if some input needs a gradient, and its outputs then do
 * too: a frozen stem (patch embedding under LoRA) or a frozen backbone (linear probe) records
 * nothing, so backward runs only where gradients are needed.
 *
 * Gradients cost as few launches as the graph allows:
 * - `gradTarget(t)` hands an op t's existing gradient to add its contribution into in place (a
 *   GEMM with beta = 1, layernorm's accumulate flag), instead of a new tensor plus an `accumulate`.
 * - `shareGrad(t, g)` passes a gradient the tape already holds on to t as well, without a copy (a
 *   residual's dY goes to both summands). The tensor is then held by several entries and freed
 *   when the last lets go. Nothing writes into a gradient while another entry holds it: an entry
 *   whose gradient is shared gets a fresh sum when something is added (one `add`, as many
 *   launches as an accumulate), and `gradTarget` offers only gradients held once. In the ViT
 *   graph every consumer of the other summand has run by the time the first addition arrives,
 *   so the in-place path is the one taken.
 * Both change only the order in which a gradient's float contributions are added.
 */
export class Tape {
  private readonly needs = new Set<Tensor>();
  private readonly grads = new Map<Tensor, Tensor>();
  /** How many entries of `grads` hold a gradient tensor, where more than one (see shareGrad). */
  private readonly holders = new Map<Tensor, number>();
  private steps: Array<{ outputs: readonly Tensor[]; run: () => void }> = [];
  private saved: Tensor[] = [];

  /** Marks a leaf (a trainable tensor) as needing a gradient. */
  track(t: Tensor): Tensor {
    this.needs.add(t);
    return t;
  }

  needsGrad(t: Tensor | undefined): boolean {
    return !!t && this.needs.has(t);
  }

  /**
   * Records an op's backward if any input needs a gradient. The closure runs during `backward`,
   * reads `grad(output)` and hands gradients to `addGrad`. Returns whether it was recorded.
   */
  record(inputs: ReadonlyArray<Tensor | undefined>, outputs: readonly Tensor[], backward: () => void): boolean {
    if (!inputs.some((t) => this.needsGrad(t))) return false;
    for (const o of outputs) this.needs.add(o);
    this.steps.push({ outputs, run: backward });
    return true;
  }

  /** Keeps an activation alive until the tape is cleared (the backward of some op reads it). */
  save<T extends Tensor>(t: T): T {
    this.saved.push(t);
    return t;
  }

  grad(t: Tensor): Tensor | undefined {
    return this.grads.get(t);
  }

  /** Adds g into t's gradient; the tape owns g from here on. */
  addGrad(t: Tensor, g: Tensor): void {
    if (!this.needsGrad(t)) {
      g.release();
      return;
    }
    if (!this.grads.has(t)) {
      this.grads.set(t, g);
      return;
    }
    this.addInto(t, g);
    g.release();
  }

  /**
   * t's gradient so far, for an op to add its contribution into in place (then it does not call
   * addGrad); undefined when t needs none, has none yet, or shares it with another entry, and the
   * op then makes a new tensor and calls addGrad.
   */
  gradTarget(t: Tensor): Tensor | undefined {
    if (!this.needsGrad(t)) return undefined;
    const g = this.grads.get(t);
    return g && !this.holders.has(g) ? g : undefined;
  }

  /**
   * Makes g, a gradient the tape holds (e.g. `grad(output)` inside a backward), t's gradient too,
   * without a copy, or adds it into t's existing gradient. The caller keeps no ownership of g.
   */
  shareGrad(t: Tensor, g: Tensor): void {
    if (!this.needsGrad(t)) return;
    if (!this.grads.has(t)) {
      this.grads.set(t, g);
      this.holders.set(g, (this.holders.get(g) ?? 1) + 1);
      return;
    }
    this.addInto(t, g);
  }

  /** t's gradient += g, in place when t alone holds it, else as a new sum (g is not consumed). */
  private addInto(t: Tensor, g: Tensor): void {
    const existing = this.grads.get(t)!;
    if (this.holders.has(existing)) {
      this.grads.set(t, add(existing, g));
      this.drop(existing);
    } else {
      accumulate(existing, g);
    }
  }

  /** One entry lets go of a gradient tensor; the last one frees it. */
  private drop(g: Tensor): void {
    const n = this.holders.get(g);
    if (n === undefined) g.release();
    else if (n > 2) this.holders.set(g, n - 1);
    else this.holders.delete(g);
  }

  /** Runs every recorded backward in reverse, seeded with `seed` as the gradient of `output`. */
  backward(output: Tensor, seed: Tensor): void {
    this.grads.set(output, seed);
    const steps = this.steps;
    this.steps = [];
    for (let i = steps.length - 1; i >= 0; i--) {
      steps[i].run();
      // Every consumer of these outputs ran later in forward, so earlier in this loop: their
      // gradients are complete and dead now, and their buffers can serve the next op.
      for (const o of steps[i].outputs) {
        const g = this.grads.get(o);
        if (g) this.drop(g);
        this.grads.delete(o);
      }
    }
  }

  /**
   * Takes the gradient of a leaf out of the tape (the caller owns it), e.g. for the optimizer.
   * Returns undefined when no gradient reached it.
   */
  takeGrad(t: Tensor): Tensor | undefined {
    const g = this.grads.get(t);
    this.grads.delete(t);
    if (!g || !this.holders.has(g)) return g;
    // Another entry still holds it: the caller gets its own copy.
    this.drop(g);
    return copy(g);
  }

  /** Releases saved activations and every gradient not taken; leaves stay tracked. */
  clear(leaves: Iterable<Tensor> = []): void {
    const keep = new Set(leaves);
    for (const t of this.saved) t.release();
    this.saved = [];
    for (const [t, g] of this.grads) if (!keep.has(t)) this.drop(g);
    this.grads.clear();
    this.holders.clear();
    for (const t of [...this.needs]) if (!keep.has(t)) this.needs.delete(t);
    this.steps = [];
  }
}
