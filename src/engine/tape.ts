import { accumulate } from './ops/elementwise';
import type { Tensor } from './tensor';

/**
 * Reverse-mode autodiff over GPU tensors, kept deliberately small. Forward code calls `record`
 * after each op with the op's inputs, outputs and a closure that computes input gradients from
 * `grad(output)`. An op is recorded only if some input needs a gradient, and its outputs then do
 * too: a frozen stem (patch embedding under LoRA) or a frozen backbone (linear probe) records
 * nothing, so backward runs only where gradients are needed.
 */
export class Tape {
  private readonly needs = new Set<Tensor>();
  private readonly grads = new Map<Tensor, Tensor>();
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
    const existing = this.grads.get(t);
    if (!existing) {
      this.grads.set(t, g);
    } else {
      accumulate(existing, g);
      g.release();
    }
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
        this.grads.get(o)?.release();
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
    return g;
  }

  /** Releases saved activations and every gradient not taken; leaves stay tracked. */
  clear(leaves: Iterable<Tensor> = []): void {
    const keep = new Set(leaves);
    for (const t of this.saved) t.release();
    this.saved = [];
    for (const [t, g] of this.grads) if (!keep.has(t)) g.release();
    this.grads.clear();
    for (const t of [...this.needs]) if (!keep.has(t)) this.needs.delete(t);
    this.steps = [];
  }
}
