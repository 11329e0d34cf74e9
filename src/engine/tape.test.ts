import { describe, expect, it } from 'vitest';
import { useGpu } from '../testing/gpu';
import { accumulate, add, scale } from './ops/elementwise';
import { Tape } from './tape';
import { Tensor } from './tensor';

const gpu = useGpu();

const SEED = [1, -2, 0.5, 4, -0.25, 3, 7];

/** y = s·x on the tape; backward adds s·dY into x's gradient in place when the tape offers it. */
function scaled(tape: Tape, x: Tensor, s: number): Tensor {
  const y = tape.save(scale(x, s));
  tape.record([x], [y], () => {
    const dY = tape.grad(y);
    if (!dY) return;
    const into = tape.gradTarget(x);
    if (into) accumulate(into, dY, s, 1);
    else tape.addGrad(x, scale(dY, s));
  });
  return y;
}

/** out = a + b on the tape, its dY shared with both summands (as vision.ts's residual). */
function residual(tape: Tape, a: Tensor, b: Tensor): Tensor {
  const out = tape.save(add(a, b));
  tape.record([a, b], [out], () => {
    const dY = tape.grad(out);
    if (dY) for (const t of [a, b]) tape.shareGrad(t, dY);
  });
  return out;
}

describe('Tape: in-place gradients and shared residual gradients', () => {
  it("a block's pattern (h + f(g(h))) adds into h's gradient in place, with no copy and no accumulate", async () => {
    const ctx = gpu().ctx;
    const live = ctx.pool.live;
    const tape = new Tape();
    const h = tape.track(Tensor.from(ctx, [7], SEED));
    const out = residual(tape, h, scaled(tape, scaled(tape, h, 2), 3));
    const launches = ctx.launches;
    tape.backward(out, Tensor.from(ctx, [7], SEED));
    // f's backward (a scale) and g's in-place accumulate: the shared seed was h's alone by then.
    expect(ctx.launches - launches).toBe(2);
    const g = tape.takeGrad(h)!;
    expect(Array.from(await g.read())).toEqual(SEED.map((x) => 7 * x));
    g.release();
    tape.clear();
    h.release();
    expect(ctx.pool.live, 'every gradient freed exactly once').toBe(live);
  });

  it('a shared gradient is never written in place: an addition while shared makes a new sum', async () => {
    const ctx = gpu().ctx;
    const live = ctx.pool.live;
    const tape = new Tape();
    const h = tape.track(Tensor.from(ctx, [7], SEED));
    // out = h + 3h: the second summand's backward adds into h while h still shares the seed with it.
    const out = residual(tape, h, scaled(tape, h, 3));
    const seed = Tensor.from(ctx, [7], SEED);
    tape.backward(out, seed);
    const g = tape.takeGrad(h)!;
    expect(Array.from(await g.read())).toEqual(SEED.map((x) => 4 * x));
    g.release();
    tape.clear();
    h.release();
    expect(ctx.pool.live).toBe(live);
  });

  it('x + x gets twice the gradient; a leaf taking a still-shared gradient gets its own copy', async () => {
    const ctx = gpu().ctx;
    const live = ctx.pool.live;
    const tape = new Tape();
    const a = tape.track(Tensor.from(ctx, [7], SEED));
    const b = tape.track(Tensor.from(ctx, [7], SEED));
    const twice = residual(tape, a, a);
    const out = residual(tape, twice, b);
    tape.backward(out, Tensor.from(ctx, [7], SEED));
    const [ga, gb] = [tape.takeGrad(a)!, tape.takeGrad(b)!];
    expect(Array.from(await ga.read())).toEqual(SEED.map((x) => 2 * x));
    expect(Array.from(await gb.read())).toEqual(SEED);
    ga.release();
    gb.release();
    tape.clear([a, b]);
    // Two leaves summed: both hold the seed; the first to be taken gets a copy, so releasing it
    // leaves the other's intact.
    const out2 = residual(tape, a, b);
    tape.backward(out2, Tensor.from(ctx, [7], SEED));
    const ga2 = tape.takeGrad(a)!;
    const gb2 = tape.takeGrad(b)!;
    expect(ga2.buffer).not.toBe(gb2.buffer);
    ga2.release();
    expect(Array.from(await gb2.read())).toEqual(SEED);
    gb2.release();
    tape.clear();
    a.release();
    b.release();
    expect(ctx.pool.live).toBe(live);
  });
});
