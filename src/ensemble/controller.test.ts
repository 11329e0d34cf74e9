import { describe, expect, it } from 'vitest';
import { accuracyOf, averageLogits, oracleAccuracy } from './baselines';
import { initController, lossAndGrads, predict, trainController, type EnsembleInputs } from './controller';

/**
 * Two members on a 3-class problem built so that each is right on a different half of the images,
 * and the half is readable from the features: an adaptive temperature can win where the average cannot.
 */
function twoExperts(N: number): { inputs: EnsembleInputs; labels: Int32Array } {
  const C = 3;
  const labels = new Int32Array(N);
  const f0 = new Float32Array(N * 2);
  const f1 = new Float32Array(N * 3);
  const l0 = new Float32Array(N * C);
  const l1 = new Float32Array(N * C);
  for (let n = 0; n < N; n++) {
    const y = n % C;
    labels[n] = y;
    const firstKnows = (n >> 1) % 2 === 0;
    f0[n * 2] = firstKnows ? 1 : -1;
    f0[n * 2 + 1] = Math.sin(n);
    for (let j = 0; j < 3; j++) f1[n * 3 + j] = Math.cos(n * (j + 1));
    const wrong = (y + 1) % C;
    // The expert that knows is mildly confident and right; the other is very confident and wrong.
    l0[n * C + (firstKnows ? y : wrong)] = firstKnows ? 2 : 5;
    l1[n * C + (firstKnows ? wrong : y)] = firstKnows ? 5 : 2;
  }
  return { inputs: { features: [f0, f1], featureSizes: [2, 3], logits: [l0, l1], classes: C, count: N }, labels };
}

describe('ensemble controller', () => {
  it('starts as the uniform average of the members’ logits', () => {
    const { inputs } = twoExperts(12);
    const rows = [...Array(12).keys()];
    const c = initController(inputs, rows, 8, 3);
    const { logits, temperatures } = predict(c, inputs);
    const avg = averageLogits(inputs.logits, 12, 3);
    for (let i = 0; i < avg.length; i++) expect(logits[i]).toBeCloseTo(avg[i], 9);
    for (const t of temperatures) expect(t).toBeCloseTo(2, 9);
  });

  it('its gradients match central finite differences of the float64 loss', () => {
    const { inputs, labels } = twoExperts(9);
    const rows = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const c = initController(inputs, rows, 5, 1);
    // Move off the symmetric start so every term is exercised.
    c.W2.forEach((_, i) => (c.W2[i] = Math.sin(i + 1) * 0.7));
    c.b2.forEach((_, i) => (c.b2[i] = 0.3 * (i - 0.5)));
    const { grads } = lossAndGrads(c, inputs, labels, rows);
    const eps = 1e-6;
    let worst = 0;
    for (const key of ['W1', 'b1', 'W2', 'b2'] as const) {
      const p = c[key];
      for (let j = 0; j < p.length; j++) {
        const keep = p[j];
        p[j] = keep + eps;
        const up = lossAndGrads(c, inputs, labels, rows).loss;
        p[j] = keep - eps;
        const down = lossAndGrads(c, inputs, labels, rows).loss;
        p[j] = keep;
        const fd = (up - down) / (2 * eps);
        worst = Math.max(worst, Math.abs(fd - grads[key][j]) / Math.max(1e-6, Math.abs(fd) + Math.abs(grads[key][j])));
      }
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('learns per-image temperatures that beat the average, up to the oracle, on members that are right on different images', () => {
    const { inputs, labels } = twoExperts(60);
    const train = [...Array(30).keys()];
    const val = train.map((n) => n + 30);
    const avg = averageLogits(inputs.logits, 60, 3);
    const avgAcc = accuracyOf(avg, labels, 3, val);
    const oracle = oracleAccuracy(inputs.logits, labels, 3, val);
    expect(oracle).toBe(1);
    expect(avgAcc).toBeLessThan(0.2);
    const { controller, losses } = trainController(inputs, labels, train, { width: 16, steps: 200, lr: 1e-2, weightDecay: 0, batch: 0, seed: 0 });
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.5);
    const acc = accuracyOf(predict(controller, inputs).logits, labels, 3, val);
    expect(acc).toBeGreaterThan(0.9);
  });
});
