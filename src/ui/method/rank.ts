import { METHODS } from '../../methods/registry';
import type { RunEstimate } from '../../session/protocol';

function range(values: number[]): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

/**
 * The rank a method's update can reach, in words: "≤ 8 of 192", "full (192)", or why there is
 * none; `fraction` is the mean share of full rank, for a bar.
 */
export function rankSummary(est: RunEstimate): { text: string; fraction: number; full: boolean } {
  const layers = est.maxRank;
  if (layers.length === 0) {
    const m = METHODS[est.method];
    return { text: m.usesTargets || m.trainsBackbone ? 'none: no target layers chosen' : 'none: the backbone stays frozen', fraction: 0, full: false };
  }
  const full = layers.every((l) => l.rank >= l.full);
  const fraction = layers.reduce((a, l) => a + Math.min(1, l.rank / l.full), 0) / layers.length;
  const fulls = range(layers.map((l) => l.full));
  return { text: full ? `full rank (${fulls})` : `≤ ${range(layers.map((l) => l.rank))} of ${fulls}`, fraction, full };
}
