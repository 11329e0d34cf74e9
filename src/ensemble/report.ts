/**
 * An ensemble from its members' cached outputs, start to end on the CPU: the controller trained on
 * the training rows, then every number the page and the CLI show against the validation rows —
 * each member alone, the uniform average, the oracle and the ensemble — with each validation
 * image's temperatures and predictions, for the per-image view.
 */
import { accuracyOf, argmaxRow, averageLogits, oracleAccuracy } from './baselines';
import { predict, trainController, type Controller, type ControllerSettings, type EnsembleInputs } from './controller';

/** One member's cached outputs (what `memberOutputs` reads back), with its name. */
export interface CachedMember {
  name: string;
  featureSize: number;
  train: { features: Float32Array; logits: Float32Array; labels: Int32Array };
  val: { features: Float32Array; logits: Float32Array; labels: Int32Array };
}

export interface EnsembleReport {
  accuracy: number;
  members: Array<{ name: string; accuracy: number }>;
  average: number;
  oracle: number;
  bestMember: number;
  trainImages: number;
  valImages: number;
  losses: number[];
  /** Per validation image: its label, each member's predicted class, the ensemble's, and each member's temperature. */
  perImage: { labels: number[]; memberPredictions: number[][]; ensemblePredictions: number[]; temperatures: number[][] };
  /** Mean temperature per member over the validation images. */
  meanTemperatures: number[];
  /** Values the controller trains: W1, b1, W2, b2. */
  controllerParams: number;
  controller: Controller;
}

export function ensembleReport(members: readonly CachedMember[], classes: number, settings: ControllerSettings): EnsembleReport {
  if (members.length < 2) throw new Error(`An ensemble needs at least two members; got ${members.length}.`);
  const split = (which: 'train' | 'val'): EnsembleInputs => ({
    features: members.map((o) => o[which].features),
    featureSizes: members.map((o) => o.featureSize),
    logits: members.map((o) => o[which].logits),
    classes,
    count: members[0][which].labels.length,
  });
  const train = split('train');
  const val = split('val');
  const trainLabels = members[0].train.labels;
  const valLabels = members[0].val.labels;
  const trainRows = [...trainLabels.keys()];
  const valRows = [...valLabels.keys()];
  const { controller, losses } = trainController(train, trainLabels, trainRows, settings);
  const predicted = predict(controller, val);
  const M = members.length;
  const accs = members.map((m, i) => ({ name: m.name, accuracy: accuracyOf(val.logits[i], valLabels, classes, valRows) }));
  return {
    accuracy: accuracyOf(predicted.logits, valLabels, classes, valRows),
    members: accs,
    average: accuracyOf(averageLogits(val.logits, val.count, classes), valLabels, classes, valRows),
    oracle: oracleAccuracy(val.logits, valLabels, classes, valRows),
    bestMember: Math.max(...accs.map((a) => a.accuracy)),
    trainImages: trainRows.length,
    valImages: valRows.length,
    losses,
    perImage: {
      labels: Array.from(valLabels),
      memberPredictions: val.logits.map((l) => valRows.map((n) => argmaxRow(l, n, classes))),
      ensemblePredictions: valRows.map((n) => argmaxRow(predicted.logits, n, classes)),
      temperatures: valRows.map((n) => Array.from(predicted.temperatures.subarray(n * M, (n + 1) * M))),
    },
    meanTemperatures: members.map((_, m) => valRows.reduce((s, n) => s + predicted.temperatures[n * M + m], 0) / valRows.length),
    controllerParams: controller.W1.length + controller.b1.length + controller.W2.length + controller.b2.length,
    controller,
  };
}
