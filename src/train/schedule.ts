/** Learning rate at a step: linear warmup from 0, then cosine decay to `minRatio`·peak at the last step. */
export interface Schedule {
  peak: number;
  warmupSteps: number;
  totalSteps: number;
  minRatio?: number;
}

export function learningRate(s: Schedule, step: number): number {
  const minLr = s.peak * (s.minRatio ?? 0);
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (s.peak * (step + 1)) / s.warmupSteps;
  const decaySteps = Math.max(1, s.totalSteps - s.warmupSteps);
  const t = Math.min(1, Math.max(0, (step - s.warmupSteps) / decaySteps));
  return minLr + 0.5 * (s.peak - minLr) * (1 + Math.cos(Math.PI * t));
}
