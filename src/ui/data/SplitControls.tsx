import { useDataStore } from '../state/dataStore';
import { NumberField, wholeNumber } from './NumberField';

const K_CHOICES = [1, 2, 4, 8, 16];

/** How the loaded images are divided into training and validation, few-shot sampling, and size limits. */
export function SplitControls({ error }: { error?: string }) {
  const plan = useDataStore((s) => s.plan);
  const setPlan = useDataStore((s) => s.setPlan);
  const validationSplit = useDataStore((s) => s.info?.validationSplit);
  const kOn = plan.kShot !== undefined;
  return (
    <div className="split-controls" data-testid="split-controls">
      {validationSplit && (
        <p className="notice" data-testid="validation-split">
          Validating on the set’s own <strong>{validationSplit}</strong> split; training uses the <strong>train</strong> split, so the validation fraction does not apply.
        </p>
      )}
      <div className="field-row">
        <NumberField
          label="Validation fraction"
          value={plan.valFraction}
          step={0.05}
          min={0.05}
          max={0.9}
          testId="val-fraction"
          disabled={!!validationSplit}
          check={(v) => (v > 0 && v < 1 ? undefined : 'The validation fraction must be between 0 and 1 (for example 0.2).')}
          onChange={(v) => setPlan({ valFraction: v! })}
          help="Share of each class held out to measure accuracy; never trained on."
        />
        <NumberField
          label="Split seed"
          value={plan.seed}
          step={1}
          min={0}
          testId="split-seed"
          check={wholeNumber(0, 'The seed')}
          onChange={(v) => setPlan({ seed: v! })}
          help="The same seed picks the same images, so runs compare on identical data."
        />
      </div>
      <div className="field-row">
        <div className="field">
          <label className="check">
            <input type="checkbox" checked={kOn} data-testid="kshot-enabled" onChange={(e) => setPlan({ kShot: e.target.checked ? 16 : undefined })} />
            Few-shot: k training images per class
          </label>
          <div className="chips" role="group" aria-label="k">
            {K_CHOICES.map((k) => (
              <button key={k} type="button" className={plan.kShot === k ? 'chip chip-on' : 'chip'} aria-pressed={plan.kShot === k} onClick={() => setPlan({ kShot: k })} data-testid={`kshot-${k}`}>
                {k}
              </button>
            ))}
          </div>
          <p className="field-help">As in the RandLoRA paper’s few-shot settings: train on k images of each class (drawn from the training part, seeded); validation stays as it is.</p>
        </div>
        <NumberField
          label="k"
          value={plan.kShot}
          step={1}
          min={1}
          placeholder="16"
          testId="kshot-k"
          disabled={!kOn}
          check={wholeNumber(1, 'k')}
          onChange={(v) => setPlan({ kShot: v })}
        />
      </div>
      <div className="field-row">
        <NumberField
          label="Max training images"
          value={plan.trainLimit}
          step={1}
          min={1}
          placeholder="all"
          allowEmpty
          testId="train-limit"
          check={wholeNumber(1, 'The limit')}
          onChange={(v) => setPlan({ trainLimit: v })}
          help="Leave empty to use all; a limit keeps classes balanced, for quick runs."
        />
        <NumberField
          label="Max validation images"
          value={plan.valLimit}
          step={1}
          min={1}
          placeholder="all"
          allowEmpty
          testId="val-limit"
          check={wholeNumber(1, 'The limit')}
          onChange={(v) => setPlan({ valLimit: v })}
          help="Fewer validation images make evaluation faster and noisier."
        />
      </div>
      {error && (
        <p className="notice notice-error" role="alert" data-testid="split-error">
          This split cannot be used: {error}
        </p>
      )}
    </div>
  );
}
