import { useMemo, useState } from 'react';
import { METHODS } from '../../methods/registry';
import { TRAIN_DEFAULTS } from '../../train/trainer';
import { useLabDevice } from '../lab';
import { augmentationOf, useDataStore } from '../state/dataStore';
import { effectiveTargets, useMethodStore } from '../state/methodStore';
import { useModelStore } from '../state/modelStore';
import {
  COMPARISON_LR,
  COMPARISON_LR_REASON,
  COMPARISON_METHODS,
  comparisonSpecs,
  formatLr,
  specFromSettings,
  targetedLayers,
  type ComparisonMethod,
} from './specs';
import { queueRuns } from './useRuns';

/** Queue one run from the method panel's settings, or the three-way comparison in one click. */
export function QueueControls() {
  const device = useLabDevice();
  const model = useModelStore((s) => s.info);
  const data = useDataStore((s) => s.info);
  const augmentSettings = useDataStore((s) => s.augment);
  const augment = augmentationOf(augmentSettings);
  const settings = useMethodStore();
  const [rankChoice, setRankChoice] = useState<string>('');
  const [included, setIncluded] = useState<Partial<Record<ComparisonMethod, boolean>>>(() => Object.fromEntries(COMPARISON_METHODS.map((m) => [m, true])));
  const [lrText, setLrText] = useState<Partial<Record<ComparisonMethod, string>>>(() =>
    Object.fromEntries(COMPARISON_METHODS.map((m) => [m, formatLr(COMPARISON_LR[m] ?? 0)])),
  );
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const targets = effectiveTargets(settings.targets, model);
  const layers = useMemo(() => (model ? targetedLayers(model, targets) : []), [model, targets]);
  const rankLayer = layers.some((l) => l.module === rankChoice) ? rankChoice : layers[0]?.module;
  const train = { ...TRAIN_DEFAULTS, ...settings.train };

  const missing = [
    !device.isSuccess && (device.isError ? `the GPU (${device.error.message})` : 'the GPU to be ready'),
    !model && 'a model',
    !data && 'a data set',
  ].filter(Boolean) as string[];
  const ready = missing.length === 0;

  const lrs: Partial<Record<ComparisonMethod, number>> = {};
  const badLr: string[] = [];
  for (const m of COMPARISON_METHODS) {
    const v = Number(lrText[m]);
    if (Number.isFinite(v) && v > 0 && v < 1) lrs[m] = v;
    else if (included[m]) badLr.push(`${METHODS[m].label} "${lrText[m]}"`);
  }
  const chosen = COMPARISON_METHODS.filter((m) => included[m]);

  const meta = { model: model?.source, dataset: data?.source };
  async function submit(make: () => ReturnType<typeof comparisonSpecs>) {
    setError(undefined);
    setBusy(true);
    try {
      await queueRuns(make(), meta);
    } catch (e) {
      setError(`The runs could not be queued: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
    }
  }

  const queueCurrent = () => submit(() => [specFromSettings(settings, { model: model!, rankLayer, augment })]);
  const queueComparison = () => submit(() => comparisonSpecs(settings, { model: model!, rankLayer, augment, methods: chosen, lr: lrs }));

  return (
    <div className="queue" data-testid="queue-controls">
      {!ready && (
        <p className="muted" data-testid="queue-waiting">
          To queue runs, load {missing.join(' and ')} in the setup column.
        </p>
      )}
      <div className="queue-row">
        <button type="button" onClick={queueCurrent} disabled={!ready || busy} data-testid="queue-current">
          Queue {METHODS[settings.method].label} with the method panel's settings
        </button>
        <label className="inline-field">
          Rank chart follows layer{' '}
          <select value={rankLayer ?? ''} onChange={(e) => setRankChoice(e.target.value)} disabled={!layers.length} data-testid="rank-layer-select">
            {!layers.length && <option value="">(load a model)</option>}
            {layers.map((l) => (
              <option key={l.module} value={l.module}>
                {l.module} ({l.out}×{l.in})
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="explain">
        Runs queue one after another on the same model, train/validation split and seed ({train.seed}), so their curves compare
        fairly; each starts from the same pretrained weights. The rank chart tracks the update of the layer chosen here.
      </p>

      <fieldset className="compare" data-testid="compare-controls">
        <legend>Compare LoRA, RandLoRA and full fine-tuning</legend>
        <div className="compare-methods">
          {COMPARISON_METHODS.map((m) => (
            <div key={m} className="compare-method">
              <label>
                <input
                  type="checkbox"
                  checked={included[m]}
                  onChange={(e) => setIncluded({ ...included, [m]: e.target.checked })}
                  data-testid={`compare-include-${m}`}
                />{' '}
                {METHODS[m].label}
              </label>
              <label className="inline-field">
                lr{' '}
                <input
                  type="text"
                  inputMode="decimal"
                  size={7}
                  value={lrText[m]}
                  onChange={(e) => setLrText({ ...lrText, [m]: e.target.value })}
                  aria-label={`${METHODS[m].label} learning rate`}
                  data-testid={`compare-lr-${m}`}
                />
              </label>
            </div>
          ))}
        </div>
        <p className="explain">
          Matched settings: {train.steps} steps, batch {train.batchSize}, seed {train.seed}, {train.warmupSteps} warmup step{train.warmupSteps === 1 ? '' : 's'} then
          cosine decay, {augment ? `${[augment.crop && 'random resized crop', augment.flip && 'horizontal flip'].filter(Boolean).join(' and ')} from the data panel` : 'no augmentation'}, on the layers{' '}
          {targets.join(', ') || '(default targets)'}; each method keeps its own settings from the method panel
          (PEFT's defaults unless changed). {COMPARISON_LR_REASON}
        </p>
        {badLr.length > 0 && (
          <p className="notice notice-error" role="alert" data-testid="compare-lr-error">
            Learning rate {badLr.join(', ')} is not a number between 0 and 1; type e.g. 5e-3.
          </p>
        )}
        <button
          type="button"
          onClick={queueComparison}
          disabled={!ready || busy || chosen.length === 0 || badLr.length > 0}
          data-testid="queue-comparison"
        >
          Queue {chosen.map((m) => METHODS[m].label).join(' vs ') || 'nothing'}
        </button>
      </fieldset>
      {error && (
        <p className="notice notice-error" role="alert" data-testid="queue-error">
          {error} Load the model and data set again if they changed, then queue once more.
        </p>
      )}
    </div>
  );
}
