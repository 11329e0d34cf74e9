/**
 * What a method gives the methods benchmark (bench/methods.ts) through its `bench.ts`: one linear
 * layer set up with the method's own kernels ("fused") and the same computation composed from
 * plain GEMMs and element-wise ops ("composed"), which is an independent reference at full size.
 */
import { matmul, type MatmulOptions } from '../engine/ops/matmul';
import type { Distribution } from '../engine/random';
import type { Tensor } from '../engine/tensor';
import type { GpuContext } from '../gpu/context';

/** Counts the FLOPs the composed path launches (2·M·N·K per GEMM, one per element-wise multiply or add). */
export class FlopCounter {
  total = 0;
  add(n: number): void {
    this.total += n;
  }
  mm(a: Tensor, b: Tensor, opts: MatmulOptions): Tensor {
    const M = opts.transA ? a.cols : a.rows;
    const K = opts.transA ? a.rows : a.cols;
    const N = opts.transB ? b.rows : b.cols;
    this.total += 2 * M * N * K;
    return matmul(a, b, opts);
  }
}

/** A linear layer, PyTorch convention: W is (out, in). */
export interface BenchLayer {
  in: number;
  out: number;
}

/** One method set up on one layer: its adapter-specific parts of the two paths. */
export interface MethodOnLayer {
  /** Hyper-parameters, for the table. */
  label: string;
  /** How the fused path runs, where the ops choose (RandLoRA's cost model). */
  fusedVariant?: string;
  /** y += x·ΔWᵀ; returns whatever the backward may reuse (released by `backward`). */
  forward(x: Tensor, y: Tensor): Tensor | undefined;
  /** dx += dY·ΔW; returns the trainables' gradients (new tensors). */
  backward(x: Tensor, dY: Tensor, dx: Tensor, saved: Tensor | undefined): Tensor[];
  /** Wm += ΔW with plain GEMMs and element-wise ops (Wm holds a copy of W). */
  mergeDense(f: FlopCounter, Wm: Tensor): void;
  /** Gradients of the trainables from the dense dΔW (O×I), with plain GEMMs and element-wise ops. */
  chainRule(f: FlopCounter, G: Tensor): Tensor[];
  release(): void;
}

/** A method's bench.ts default export. Trainables are drawn at random, not at their initial values. */
export type BenchSetup = (ctx: GpuContext, l: BenchLayer, seed: number, T: number) => MethodOnLayer;

export const uniform = (lo: number, hi: number): Distribution => ({ kind: 'uniform', lo, hi });
