import { TRAIN_DEFAULTS } from '../train/trainer';
import { TRAIN_FIELDS } from './method/fields';
import { SettingField } from './method/SettingField';
import { useMethodStore } from './state/methodStore';
import './method/method.css';

/** The training settings every run shares: steps, batch, learning-rate schedule, regularisation, seed. */
export function TrainingPanel() {
  const train = useMethodStore((s) => s.train);
  const setTrain = useMethodStore((s) => s.setTrain);
  const changed = TRAIN_FIELDS.some((f) => train[f.key] !== TRAIN_DEFAULTS[f.key]);
  return (
    <section className="panel" aria-labelledby="training-panel-title" data-testid="training-panel">
      <h2 id="training-panel-title">Training</h2>
      <div className="settings-grid" data-testid="train-settings">
        {TRAIN_FIELDS.map((f) => (
          <SettingField key={f.key} spec={f} value={train[f.key]} testId={`train-field-${f.key}`} onChange={(v) => setTrain({ [f.key]: v })} />
        ))}
      </div>
      {changed && (
        <button type="button" className="link-button" onClick={() => setTrain(Object.fromEntries(TRAIN_FIELDS.map((f) => [f.key, TRAIN_DEFAULTS[f.key]])))}>
          Back to the default training settings
        </button>
      )}
    </section>
  );
}
