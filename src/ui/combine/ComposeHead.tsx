import { DEFAULT_TEMPLATES, HEAD_KINDS, HEAD_LABELS, type HeadKind } from '../../models/zeroShot';
import { FULL_CLIP_IDS } from '../../models/textSpec';
import type { ModelInfo } from '../../session/protocol';
import { useDataStore } from '../state/dataStore';
import { useMethodStore } from '../state/methodStore';
import { zeroShotClassNames } from '../method/zeroShotSpec';

/** Whether the loaded model can give a zero-shot head: a full CLIP whose tokenizer loads (HeadPicker's rule). */
export function zeroShotUsable(info: ModelInfo | undefined): boolean {
  return !!info?.text && !info.text.tokenizerError;
}

/**
 * The composition's head, for a CLIP: a new linear head, or the zero-shot head frozen (only λ
 * train, as aTLAS does) or trained from there. The prompt templates and class names are the ones
 * the method panel's "Classification head" holds, so a composition reads the names its zero-shot
 * runs read. Other models have only the linear head and show nothing.
 */
export function ComposeHead({ info, head, onChange }: { info: ModelInfo | undefined; head: HeadKind; onChange: (head: HeadKind) => void }) {
  const templates = useMethodStore((s) => s.train.templates) ?? [...DEFAULT_TEMPLATES];
  const typed = useMethodStore((s) => s.train.classNames);
  const dataNames = useDataStore((s) => s.info?.classNames) ?? [];
  if (info?.family !== 'clip') return null;
  const usable = zeroShotUsable(info);
  const names = zeroShotClassNames(dataNames, typed);
  return (
    <div className="compose-head" role="radiogroup" aria-label="Composition head" data-testid="compose-head" data-head={head}>
      <strong>Head</strong>
      {HEAD_KINDS.map((k) => (
        <label key={k} className="compose-head-option" title={k === 'zeroshot' ? `${HEAD_LABELS[k].help} Under a composition only the coefficients λ train (aTLAS’s own setting).` : HEAD_LABELS[k].help}>
          <input type="radio" name="compose-head" value={k} checked={k === head} disabled={k !== 'linear' && !usable} onChange={() => onChange(k)} data-testid="compose-head-option" data-head={k} /> {HEAD_LABELS[k].label}
        </label>
      ))}
      {!usable && (
        <span className="muted small" data-testid="compose-head-needs-text">
          {info.text?.tokenizerError ?? `Zero-shot heads need the full CLIP checkpoint (both towers and tokenizer.json), e.g. ${FULL_CLIP_IDS[0]}.`}
        </span>
      )}
      {usable && head !== 'linear' && (
        <span className="muted small" data-testid="compose-head-prompts">
          {templates.length} prompt template{templates.length === 1 ? '' : 's'} × {names.length} class names ({names.slice(0, 3).join(', ')}
          {names.length > 3 ? ', …' : ''}), from the Classification head settings.{head === 'zeroshot' ? ' The base is then CLIP zero-shot; only λ train.' : ''}
        </span>
      )}
    </div>
  );
}
