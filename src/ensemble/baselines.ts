/**
 * What an ensemble is read against, from the members' cached logits: each member alone, the
 * uniform average of their logits, and the oracle that picks, per image, a member that is right
 * (the upper bound of any per-image choice of member).
 */

export function argmaxRow(logits: ArrayLike<number>, n: number, C: number): number {
  let best = 0;
  for (let k = 1; k < C; k++) if (logits[n * C + k] > logits[n * C + best]) best = k;
  return best;
}

export function accuracyOf(logits: ArrayLike<number>, labels: ArrayLike<number>, C: number, rows: readonly number[]): number {
  if (!rows.length) return NaN;
  let right = 0;
  for (const n of rows) if (argmaxRow(logits, n, C) === labels[n]) right++;
  return right / rows.length;
}

/** The mean of the members' logits (N × C). */
export function averageLogits(members: readonly Float32Array[], N: number, C: number): Float64Array {
  const out = new Float64Array(N * C);
  for (const l of members) for (let i = 0; i < N * C; i++) out[i] += l[i] / members.length;
  return out;
}

/** Fraction of rows some member classifies correctly. */
export function oracleAccuracy(members: readonly Float32Array[], labels: ArrayLike<number>, C: number, rows: readonly number[]): number {
  if (!rows.length) return NaN;
  let right = 0;
  for (const n of rows) if (members.some((l) => argmaxRow(l, n, C) === labels[n])) right++;
  return right / rows.length;
}
