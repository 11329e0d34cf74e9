import { matchesTarget } from '../../models/names';
import type { ModelInfo } from '../../session/protocol';

/** What each kind of linear layer is, in a few words (ViT/DeiT and CLIP names). */
const KIND_WORDS: Record<string, string> = {
  query: 'attention queries',
  key: 'attention keys',
  value: 'attention values',
  'attention.output.dense': 'attention output projection',
  'intermediate.dense': 'MLP up-projection',
  'output.dense': 'MLP down-projection (its name also matches the attention output, as in PEFT)',
  q_proj: 'attention queries',
  k_proj: 'attention keys',
  v_proj: 'attention values',
  out_proj: 'attention output projection',
  fc1: 'MLP up-projection',
  fc2: 'MLP down-projection',
};

/** Checkboxes over the model's kinds of linear layer, each with how many layers it adapts and their shapes. */
export function TargetPicker({
  info,
  chosen,
  onChange,
  applies,
}: {
  info: ModelInfo;
  chosen: string[];
  onChange: (targets: string[] | undefined) => void;
  applies: boolean;
}) {
  const isDefault = chosen.length === info.defaultTargets.length && info.defaultTargets.every((t) => chosen.includes(t));
  return (
    <fieldset className="targets" data-testid="targets" disabled={!applies}>
      <legend>Target modules</legend>
      <p className="muted field-help">
        {applies
          ? 'The linear layers the adapter is attached to, matched by name suffix the way PEFT’s target_modules are. More targets: more trainable values and more of the model that can change.'
          : 'This method does not attach adapters, so targets do not apply to it; they still apply to the adapter methods in the table below.'}
      </p>
      <div className="target-list">
        {info.allTargets.map((t) => {
          const layers = info.linearLayers.filter((l) => matchesTarget(l.module, [t]));
          const shapes = [...new Set(layers.map((l) => `${l.out}×${l.in}`))].join(', ');
          return (
            <label key={t} className="target" title={layers.map((l) => l.module).join('\n')}>
              <input
                type="checkbox"
                data-testid={`target-${t}`}
                checked={chosen.includes(t)}
                onChange={(e) => onChange(e.target.checked ? info.allTargets.filter((x) => x === t || chosen.includes(x)) : chosen.filter((x) => x !== t))}
              />{' '}
              <code>{t}</code>{' '}
              <span className="muted">
                {KIND_WORDS[t] ? `${KIND_WORDS[t]}; ` : ''}
                {layers.length} layer{layers.length === 1 ? '' : 's'}, {shapes}
              </span>
            </label>
          );
        })}
      </div>
      {!isDefault && (
        <button type="button" className="link-button" onClick={() => onChange(undefined)}>
          Back to the defaults ({info.defaultTargets.join(', ')})
        </button>
      )}
    </fieldset>
  );
}
