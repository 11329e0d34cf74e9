import { loadServedModel } from './model/loader';
import { useDataStore } from './state/dataStore';
import { useMethodStore } from './state/methodStore';
import { useModelStore } from './state/modelStore';

/**
 * The offline first run: a small ViT that Rankscope pretrained itself (public/models/), and the
 * Fashion-MNIST classes it never saw as a few-shot downstream set (public/datasets/). Both ship
 * with the app, so the comparison works with no network.
 */
export const DEMO = {
  modelFolder: 'models/rankscope-vit-fmnist5/',
  modelName: 'rankscope-vit-fmnist5',
  datasetId: 'fashion-mnist-heldout',
  /** Short enough for a laptop GPU in well under a minute a run; long enough for the curves to separate. */
  train: { steps: 60, batchSize: 16, warmupSteps: 5, evalEvery: 15, logEvery: 3, seed: 0 },
  /** Every attention and MLP projection, so RandLoRA's full-rank update has the whole network to work with. */
  targets: ['query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'],
} as const;

/**
 * Whether the page was opened without a model named in its link (and without `?nodemo`, which
 * tests of other panels use): then the demo is preselected.
 */
export function wantsDemo(search = window.location.search): boolean {
  const q = new URLSearchParams(search);
  return !q.has('model') && !q.has('nodemo');
}

/** Loads the demo model and data set (each waits for the GPU if it is not ready yet). */
export function preselectDemo(): void {
  const model = useModelStore.getState();
  if (!model.info && !model.pending && model.status !== 'loading') loadServedModel(DEMO.modelFolder);
  const data = useDataStore.getState();
  if (!data.info && !data.pendingBuiltin) useDataStore.setState({ pendingBuiltin: DEMO.datasetId });
}

/** The demo's settings in the method panel, so what it queues is visible and editable there. */
export function applyDemoSettings(): void {
  const m = useMethodStore.getState();
  m.setTrain({ ...DEMO.train });
  m.setTargets([...DEMO.targets]);
}

export function demoLoaded(): boolean {
  const model = useModelStore.getState().info;
  const data = useDataStore.getState().info;
  return !!model?.source.includes(DEMO.modelName) && !!data?.source.includes(DEMO.datasetId);
}
