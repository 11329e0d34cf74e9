/**
 * The GPU dialog's words for the row-reduction path the worker's ops report (reductionPath in
 * src/engine/ops/reductionPath.ts): one line saying which path runs and why, and a short help text.
 */
import type { ReductionPathSummary } from '../engine/ops/reductionPath';

/** "Reductions: subgroup (layernorm, cross-entropy)" or "Reductions: workgroup shared memory (why)". */
export function reductionLine(s: ReductionPathSummary): string {
  if (s.path === 'subgroup') return `Reductions: subgroup (${s.ops.join(', ')})`;
  const why = s.reason === 'switched-off' ? 'turned off by ?subgroups=0' : 'no subgroups feature on this GPU';
  return `Reductions: workgroup shared memory (${why})`;
}

/** What the path means, what it leaves out, and how to switch. */
export function reductionHelp(s: ReductionPathSummary): string {
  const lanes = s.subgroupSizes ? (s.subgroupSizes.min === s.subgroupSizes.max ? `${s.subgroupSizes.min} lanes` : `${s.subgroupSizes.min}–${s.subgroupSizes.max} lanes`) : undefined;
  const how =
    s.path === 'subgroup'
      ? `Row sums and maxima across a workgroup's lanes run as subgroupAdd / subgroupMax within each subgroup${lanes ? ` (${lanes} here)` : ''}, then one pass through workgroup memory in a fixed order, so every run gives the same bits.`
      : "Row sums and maxima across a workgroup's lanes run as a tree through workgroup shared memory, one barrier per level.";
  const layernorm = `Layernorm rows of at most ${s.layerNormOneLaneCols} values are summed by one invocation each, so they take neither path.`;
  const attention = "Attention's softmax runs inside the fused attention kernel, where each invocation keeps its own row's running max and sum, so it has no cross-lane reduction.";
  const toggle =
    s.path === 'subgroup'
      ? 'Open the page with ?subgroups=0 to compare with the workgroup path.'
      : s.reason === 'switched-off'
        ? 'Open the page with ?subgroups=1 to use subgroups again.'
        : '';
  return [how, layernorm, attention, toggle].filter(Boolean).join(' ');
}
