/**
 * Which path the engine's cross-lane row reductions take on a context: subgroup operations
 * (subgroupAdd / subgroupMax, then one workgroup-memory pass) or a workgroup shared-memory tree,
 * and why. Asked of the ops themselves (the predicates they specialise their kernels with), so the
 * GPU dialog reports what runs rather than re-deriving it from the adapter's features.
 */
import type { GpuContext } from '../../gpu/context';
import { crossEntropyUsesSubgroups } from './crossEntropy';
import { LAYERNORM_ONE_LANE_COLS, layerNormUsesSubgroups } from './layernorm';

export interface ReductionPathSummary {
  /** 'subgroup' when at least one op reduces through subgroup operations on this context. */
  path: 'subgroup' | 'workgroup';
  /** The ops whose row reductions take the subgroup path ('layernorm', 'cross-entropy'); empty otherwise. */
  ops: string[];
  /** Why the workgroup path runs: the device lacks `subgroups`, or it was switched off (?subgroups=0, RANKSCOPE_SUBGROUPS=0). */
  reason?: 'no-feature' | 'switched-off';
  /** Layernorm rows of at most this many values are reduced by one invocation each: no cross-lane sum either way. */
  layerNormOneLaneCols: number;
  /** The adapter's subgroup sizes where it reports them (GPUAdapterInfo.subgroupMinSize / MaxSize). */
  subgroupSizes?: { min: number; max: number };
}

export function reductionPath(ctx: GpuContext): ReductionPathSummary {
  const ops: string[] = [];
  if (layerNormUsesSubgroups(ctx, LAYERNORM_ONE_LANE_COLS + 1)) ops.push('layernorm');
  if (crossEntropyUsesSubgroups(ctx)) ops.push('cross-entropy');
  // Optional: older Dawn builds have no adapterInfo on the device.
  const info = (ctx.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const subgroupSizes = info?.subgroupMinSize && info.subgroupMaxSize ? { min: info.subgroupMinSize, max: info.subgroupMaxSize } : undefined;
  const summary: ReductionPathSummary = { path: ops.length ? 'subgroup' : 'workgroup', ops, layerNormOneLaneCols: LAYERNORM_ONE_LANE_COLS };
  if (!ops.length) summary.reason = ctx.device.features.has('subgroups') ? 'switched-off' : 'no-feature';
  if (subgroupSizes) summary.subgroupSizes = subgroupSizes;
  return summary;
}
