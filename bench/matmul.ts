/** Our GEMM on the three products of a linear layer's forward and backward. */
import type { GpuContext } from '../src/gpu/context';
import { matmul } from '../src/engine/ops/matmul';
import { UNIT_UNIFORM } from '../src/engine/random';
import { randomTensor } from '../src/engine/randomTensor';
import { Tensor } from '../src/engine/tensor';
import type { LayerShape } from './config';
import { row, type BenchRow } from './report';
import { timeSteps, type Budget } from './timing';

/** One product of a linear layer y = x·Wᵀ with x (T, I), W (O, I), dY (T, O). */
export interface Product {
  key: 'forward' | 'input_grad' | 'weight_grad';
  name: string;
  /** Which tensors are A and B, and whether each is transposed: opA(A) is M×K, opB(B) is K×N. */
  a: 'x' | 'W' | 'dY';
  b: 'x' | 'W' | 'dY';
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  shape: string;
}

export function layerProducts(T: number, l: LayerShape): Product[] {
  const I = l.in;
  const O = l.out;
  return [
    { key: 'forward', name: 'x·Wᵀ forward', a: 'x', b: 'W', transA: false, transB: true, M: T, N: O, K: I, shape: `${T}×${I} · (${O}×${I})ᵀ` },
    { key: 'input_grad', name: 'dY·W input grad', a: 'dY', b: 'W', transA: false, transB: false, M: T, N: I, K: O, shape: `${T}×${O} · ${O}×${I}` },
    { key: 'weight_grad', name: 'dYᵀ·x weight grad', a: 'dY', b: 'x', transA: true, transB: false, M: O, N: I, K: T, shape: `(${T}×${O})ᵀ · ${T}×${I}` },
  ];
}

export const productFlops = (p: Product): number => 2 * p.M * p.N * p.K;

export async function benchMatmul(
  ctx: GpuContext,
  T: number,
  shapes: LayerShape[],
  budget: Budget,
  log: (line: string) => void,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const l of shapes) {
    const operands = {
      x: randomTensor(ctx, [T, l.in], 1, 1, UNIT_UNIFORM, 'x'),
      W: randomTensor(ctx, [l.out, l.in], 1, 2, UNIT_UNIFORM, 'W'),
      dY: randomTensor(ctx, [T, l.out], 1, 3, UNIT_UNIFORM, 'dY'),
    };
    for (const p of layerProducts(T, l)) {
      const out = Tensor.empty(ctx, [p.M, p.N], p.key);
      const opts = { transA: p.transA, transB: p.transB, out, op: `bench_${p.key}` };
      const t = await timeSteps(ctx, () => void matmul(operands[p.a], operands[p.b], opts), budget);
      const r = row({ suite: 'matmul', name: p.name, layer: l.name, shape: p.shape, flops: productFlops(p) }, t);
      rows.push(r);
      log(`matmul ${l.name} ${p.name}: ${r.msPerIter.toFixed(2)} ms, ${r.gflops.toFixed(2)} GFLOP/s (${r.iters} iters)`);
      out.release();
    }
    for (const t of Object.values(operands)) t.release();
  }
  return rows;
}
