/**
 * Float64 reference for softmax cross-entropy with label smoothing and ignored labels, matching
 * torch.nn.CrossEntropyLoss(reduction='mean', label_smoothing=ε, ignore_index=<negative>).
 */
export interface CrossEntropy64 {
  losses: Float64Array;
  predictions: Float64Array;
  mean: number;
  correct: number;
  count: number;
  /** d(mean loss)/dlogits. */
  dlogits: Float64Array;
}

export function crossEntropy64(logits: ArrayLike<number>, labels: ArrayLike<number>, B: number, C: number, smoothing = 0): CrossEntropy64 {
  const losses = new Float64Array(B);
  const predictions = new Float64Array(B);
  const dlogits = new Float64Array(B * C);
  const valid = (y: number) => Number.isInteger(y) && y >= 0 && y < C;
  let count = 0;
  for (let b = 0; b < B; b++) if (valid(labels[b])) count++;
  let sum = 0;
  let correct = 0;
  for (let b = 0; b < B; b++) {
    let m = -Infinity;
    let arg = 0;
    for (let j = 0; j < C; j++) {
      if (logits[b * C + j] > m) {
        m = logits[b * C + j];
        arg = j;
      }
    }
    predictions[b] = arg;
    let z = 0;
    for (let j = 0; j < C; j++) z += Math.exp(logits[b * C + j] - m);
    const lse = m + Math.log(z);
    const y = labels[b];
    if (!valid(y)) continue;
    let smooth = 0;
    for (let j = 0; j < C; j++) smooth += lse - logits[b * C + j];
    losses[b] = (1 - smoothing) * (lse - logits[b * C + y]) + (smoothing / C) * smooth;
    sum += losses[b];
    if (arg === y) correct++;
    for (let j = 0; j < C; j++) {
      const target = smoothing / C + (j === y ? 1 - smoothing : 0);
      dlogits[b * C + j] = (Math.exp(logits[b * C + j] - lse) - target) / count;
    }
  }
  return { losses, predictions, mean: count ? sum / count : 0, correct, count, dlogits };
}
