/**
 * GEMM tilings and shape classes: which workgroup shape and staging depth `matmul` uses for a
 * product, by default or as the autotuner chose for this GPU (src/engine/tuning/matmulTuner.ts).
 *
 * Every tiling sums each output over k in the same order into one accumulator, so the choice
 * changes speed only; tests hold every candidate to the float64 reference.
 */
import type { GpuContext } from '../../gpu/context';
import type { Activation } from './matmul';

/** A workgroup of wgX×wgY invocations computes a (4·wgY)×(4·wgX) tile of C, staging tk-deep slices. */
export interface Tiling {
  wgX: number;
  wgY: number;
  tk: number;
}

/** "16x16k16": short, stable, and what the tuning cache stores. */
export function tilingId(t: Tiling): string {
  return `${t.wgX}x${t.wgY}k${t.tk}`;
}

export function parseTilingId(id: string): Tiling | undefined {
  const m = /^(\d+)x(\d+)k(\d+)$/.exec(id);
  if (!m) return undefined;
  const t = { wgX: +m[1], wgY: +m[2], tk: +m[3] };
  return TILING_CANDIDATES.some((c) => tilingId(c) === id) ? t : undefined;
}

const LARGE: Tiling = { wgX: 16, wgY: 16, tk: 16 };
const SMALL: Tiling = { wgX: 8, wgY: 8, tk: 16 };

/**
 * What the tuner times: the two built-in tilings and cheap variants the shader's defines allow —
 * wide and tall workgroups (for products much longer one way), a shallower staging slice, and a
 * tiny 16×16 tile for the thin products of adapters and attention heads. All fit the engine's
 * minimum limits (256 invocations, 16 KiB of workgroup memory: at most 8 KiB here).
 */
export const TILING_CANDIDATES: readonly Tiling[] = [
  LARGE,
  SMALL,
  { wgX: 16, wgY: 8, tk: 16 },
  { wgX: 8, wgY: 16, tk: 16 },
  { wgX: 16, wgY: 16, tk: 8 },
  { wgX: 4, wgY: 4, tk: 16 },
];

/** The untuned choice: small tiles when the output is small in either direction, where a 64-wide tile would mostly idle. */
export function defaultTiling(M: number, N: number): Tiling {
  return Math.min(M, N) <= 32 || M * N <= 64 * 64 ? SMALL : LARGE;
}

/** The shader defines of a tiling. */
export function tilingDefines(t: Tiling): { WG_X: number; WG_Y: number; TK: number; A_VEC4S: number; B_VEC4S: number } {
  return { WG_X: t.wgX, WG_Y: t.wgY, TK: t.tk, A_VEC4S: t.tk * t.wgY, B_VEC4S: t.tk * t.wgX };
}

/** One dense GEMM as `matmul` launches it. */
export interface GemmShape {
  M: number;
  N: number;
  K: number;
  batch: number;
  transA: boolean;
  transB: boolean;
  /**
   * The epilogue it ran with (not part of the class): the tuner times the same kernel variant, so
   * the default tiling's pipeline is already compiled and the winner's is ready for the next step.
   */
  bias?: boolean;
  activation?: Activation;
  /**
   * A split GEMM (matmulSplitOutputs: 'n', matmulSplitDepth: 'k') reads its operands from three
   * buffers each, so its loads cost differently: it gets a class of its own. The tuner times the
   * unsplit kernel of the same shape for it (it cannot make the split's bindings), the closest
   * kernel it can run; the residual and activation-gradient epilogues are left out the same way.
   */
  split?: 'n' | 'k';
}

/** Powers of two from 16 up: sizes within a factor of two share a class, so a model has few classes. */
function bucket(n: number): number {
  return n <= 16 ? 16 : 2 ** Math.ceil(Math.log2(n));
}

/**
 * The class a GEMM's tiling is chosen for: transposes, and M, N, K and the batch rounded up to a
 * power of two (batch 1 apart from batched), and a split GEMM's axis. "tA0 tB1 M256 N64 K64 b1",
 * "tA0 tB1 M256 N192 K64 b1 sn".
 */
export function shapeClass(s: GemmShape): string {
  const base = `tA${+s.transA} tB${+s.transB} M${bucket(s.M)} N${bucket(s.N)} K${bucket(s.K)} b${s.batch > 1 ? bucket(s.batch) : 1}`;
  return s.split ? `${base} s${s.split}` : base;
}

/** Per device: the tuner's winners by class, and the dense classes met since tuning was switched on. */
export interface TilingTable {
  /** Winners by shape class; `matmul` reads this at every launch. */
  readonly chosen: Map<string, Tiling>;
  /** When set, dense GEMMs record their class here (largest shape and total work), for the tuner. */
  seen: Map<string, { shape: GemmShape; flops: number; launches: number }> | undefined;
  /** False: launches use the default tilings though winners are known (the bench's tuned-vs-default comparison). */
  active: boolean;
}

const tables = new WeakMap<GpuContext, TilingTable>();

export function tilingTable(ctx: GpuContext): TilingTable {
  let t = tables.get(ctx);
  if (!t) {
    t = { chosen: new Map(), seen: undefined, active: true };
    tables.set(ctx, t);
  }
  return t;
}

/**
 * The tiling for a GEMM on this device: the tuned winner of its class, else the default.
 * Records the class for the tuner while tuning is on.
 */
export function tilingFor(ctx: GpuContext, s: GemmShape): Tiling {
  const table = tables.get(ctx);
  if (!table) return defaultTiling(s.M, s.N);
  if (table.chosen.size === 0 && !table.seen) return defaultTiling(s.M, s.N);
  const cls = shapeClass(s);
  if (table.seen) {
    const flops = 2 * s.M * s.N * s.K * s.batch;
    const entry = table.seen.get(cls);
    if (!entry) table.seen.set(cls, { shape: { ...s }, flops, launches: 1 });
    else {
      if (flops > 2 * entry.shape.M * entry.shape.N * entry.shape.K * entry.shape.batch) entry.shape = { ...s };
      entry.flops += flops;
      entry.launches++;
    }
  }
  return (table.active && table.chosen.get(cls)) || defaultTiling(s.M, s.N);
}

/** Uses the tuned winners (true, the default) or the default tilings (false) from the next launch on. */
export function useTunedTilings(ctx: GpuContext, on: boolean): void {
  tilingTable(ctx).active = on;
}
