import { useEffect } from 'react';
import { METHODS, type MethodId } from '../methods/registry';
import { TRAIN_DEFAULTS } from '../train/trainer';
import { CostTable, costSentence } from './method/CostTable';
import { HeadPicker } from './method/HeadPicker';
import { METHOD_FIELDS } from './method/fields';
import { SettingField } from './method/SettingField';
import { TargetPicker } from './method/TargetPicker';
import { useEstimates } from './method/useEstimates';
import { METHOD_IDS, effectiveTargets, useMethodStore } from './state/methodStore';
import { useModelStore } from './state/modelStore';
import { installUrlState, useUrlNotice } from './urlState';
import './model/model.css';
import './method/method.css';

// Settings from a shared link go into the stores before the first render.
installUrlState();

/**
 * Choose how to fine-tune: the method and its hyperparameters (PEFT's or the paper's defaults),
 * and the layers it adapts; see what each method would cost before anything runs (the training
 * settings are the training panel's).
 */
export function MethodPanel() {
  const { method, configs, targets, setMethod, setConfig, setTargets } = useMethodStore();
  const info = useModelStore((s) => s.info);
  const ignored = useUrlNotice((s) => s.ignored);
  const dismiss = useUrlNotice((s) => s.dismiss);
  const estimates = useEstimates();
  const chosen = effectiveTargets(targets, info);
  const def = METHODS[method];
  const fields = METHOD_FIELDS[method];
  const selected = estimates.data?.find((e) => e.method === method);
  const dropped = info && targets ? targets.filter((t) => !info.allTargets.includes(t)) : [];

  // A model of another family has other layer names: a choice that names none of its layers falls back to its defaults.
  useEffect(() => {
    if (info && targets && targets.length > 0 && targets.every((t) => !info.allTargets.includes(t))) setTargets(undefined);
  }, [info, targets, setTargets]);

  const methodDefaults = METHODS[method].defaults as Record<string, unknown>;
  const methodChanged = fields.some((f) => configs[method][f.key] !== methodDefaults[f.key]);

  return (
    <section className="panel" aria-labelledby="method-panel-title" data-testid="method-panel">
      <h2 id="method-panel-title">Method</h2>
      <p className="muted panel-intro">
        How the model is fine-tuned. Methods differ in how many values they train and in how much of each layer their
        update can change (its rank): that difference is what Rankscope lets you compare.
      </p>

      {ignored.length > 0 && (
        <div className="notice notice-warn" role="status" data-testid="url-ignored">
          <p>Some settings in this link could not be used, so their defaults apply:</p>
          <ul>
            {ignored.map((m) => (
              <li key={m}>{m}</li>
            ))}
          </ul>
          <button type="button" onClick={dismiss}>
            OK
          </button>
        </div>
      )}

      <div className="method-options" role="radiogroup" aria-label="Fine-tuning method">
        {METHOD_IDS.map((id) => (
          <label key={id} className={`method-option${id === method ? ' selected' : ''}`} data-testid="method-option" data-method={id}>
            <input type="radio" name="method" value={id} checked={id === method} onChange={() => setMethod(id)} />
            <span>
              <strong>{METHODS[id].label}</strong>
              <span className="muted field-help">{METHODS[id].summary}</span>
            </span>
          </label>
        ))}
      </div>

      <h3>{def.label} settings</h3>
      {fields.length === 0 ? (
        <p className="muted" data-testid="method-no-settings">
          {def.noSettingsNote ?? `${def.label} has no settings of its own.`}
        </p>
      ) : (
        <div className="settings-grid" data-testid="method-settings" data-method={method}>
          {fields.map((f) => (
            <SettingField key={`${method}.${f.key}`} spec={f} value={configs[method][f.key]} testId={`method-field-${f.key}`} onChange={(v) => setConfig(method, { [f.key]: v })} />
          ))}
        </div>
      )}
      {methodChanged && (
        <button type="button" className="link-button" onClick={() => setConfig(method, { ...methodDefaults })}>
          Back to {def.label}’s defaults
        </button>
      )}

      {info ? (
        <>
          <TargetPicker info={info} chosen={chosen} onChange={setTargets} applies={def.usesTargets} />
          {dropped.length > 0 && (
            <p className="notice notice-warn" data-testid="targets-dropped">
              This model has no {dropped.join(', ')} layers (its kinds are {info.allTargets.join(', ')}), so {dropped.length === 1 ? 'that target is' : 'those targets are'} left out.
            </p>
          )}
          {def.usesTargets && chosen.length === 0 && (
            <p className="notice notice-warn" data-testid="targets-empty">
              No target modules are chosen, so {def.label} adapts nothing and only the classification head would train. Tick at least one.
            </p>
          )}
        </>
      ) : (
        <p className="muted" data-testid="targets-need-model">
          Target modules: load a model to choose which of its linear layers the adapter attaches to
          {targets ? ` (this link asks for ${targets.join(', ')})` : ''}.
        </p>
      )}

      {info && <HeadPicker info={info} />}

      <h3>What it costs</h3>
      {!info && (
        <p className="muted" data-testid="estimate-need-model">
          Load a model to see each method’s trainable parameters, reachable rank and GPU memory.
        </p>
      )}
      {info && estimates.isError && (
        <p className="notice notice-error" role="alert" data-testid="estimate-error">
          The costs could not be estimated: {estimates.error.message}
        </p>
      )}
      {info && estimates.data && (
        <div data-testid="estimate" data-updating={estimates.updating}>
          {selected && (
            <p className="cost-sentence" data-testid="estimate-selected" data-method={selected.method} data-params={selected.trainableParams} data-memory={selected.memoryBytes}>
              {costSentence(selected, info.parameters)}
            </p>
          )}
          <CostTable estimates={estimates.data} selected={method} modelParams={info.parameters} onSelect={(m: MethodId) => setMethod(m)} updating={estimates.updating} />
        </div>
      )}
      {info && !estimates.data && !estimates.isError && <p className="muted">Estimating…</p>}
    </section>
  );
}
