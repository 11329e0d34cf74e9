/**
 * LoRA on one layer for the methods benchmark (bench/methods.ts): its fused kernels against the same
 * step composed from plain GEMMs. Trainables are drawn at random rather than at their initial
 * values (zeros would make ΔW and several gradients exactly zero and hide errors).
 */
import { randomTensor } from '../../engine/randomTensor';
import { FlopCounter, uniform, type BenchSetup, type MethodOnLayer } from '../benchTypes';
import { LORA_DEFAULTS, loraBackward, loraForward, loraScaling, type LoraWeights } from './layer';

const setup: BenchSetup = (ctx, l, seed): MethodOnLayer => {
  const { r } = LORA_DEFAULTS;
  const p: LoraWeights = {
    A: randomTensor(ctx, [r, l.in], seed, 11, uniform(-1 / Math.sqrt(l.in), 1 / Math.sqrt(l.in)), 'lora_A'),
    B: randomTensor(ctx, [l.out, r], seed, 12, uniform(-0.1, 0.1), 'lora_B'),
    scale: loraScaling(LORA_DEFAULTS),
  };
  return {
    label: `r=${r} α=${LORA_DEFAULTS.alpha}`,
    forward: (x, y) => loraForward(x, p, y, { save: true }),
    backward(x, dY, dx, h) {
      const g = loraBackward(x, dY, p, { dx, h });
      h?.release();
      return [g.dA, g.dB];
    },
    mergeDense(f, Wm) {
      f.mm(p.B, p.A, { alpha: p.scale, beta: 1, out: Wm, op: 'composed_lora_merge' });
    },
    chainRule(f, G) {
      // ΔW = s·B·A: dA = s·Bᵀ·G, dB = s·G·Aᵀ.
      const dA = f.mm(p.B, G, { transA: true, alpha: p.scale, op: 'composed_lora_dA' });
      const dB = f.mm(G, p.A, { transB: true, alpha: p.scale, op: 'composed_lora_dB' });
      return [dA, dB];
    },
    release() {
      p.A.release();
      p.B.release();
    },
  };
};

export default setup;
