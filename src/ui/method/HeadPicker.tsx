import { useEffect, useId, useState } from 'react';
import { CLIP_PAPER_TEMPLATES, DEFAULT_TEMPLATES, HEAD_KINDS, HEAD_LABELS, NUMERIC_NAMES_NOTE, checkTemplates, numericClassNames, type HeadKind } from '../../models/zeroShot';
import { FULL_CLIP_IDS } from '../../models/textSpec';
import type { ModelInfo } from '../../session/protocol';
import { useLabDevice } from '../lab';
import { newRunId } from '../runs/specs';
import { queueRuns } from '../runs/useRuns';
import { useDataStore } from '../state/dataStore';
import { effectiveTargets, useMethodStore } from '../state/methodStore';
import { samplePrompts, zeroShotClassNames, zeroShotRunSpec } from './zeroShotSpec';

function parsesTo(draft: string, joined: string): boolean {
  try {
    return checkTemplates(draft.split('\n')).join('\n') === joined;
  } catch {
    return false;
  }
}

/**
 * CLIP's classification head: a new linear head, the zero-shot head (class names × prompt
 * templates through the text tower) frozen, or the zero-shot head as the start of a trained one;
 * the templates, the class names the text tower reads, and a zero-shot run with no training.
 * The choice lives in the method store's training settings, so every queued run carries it.
 */
export function HeadPicker({ info }: { info: ModelInfo }) {
  const train = useMethodStore((s) => s.train);
  const setTrain = useMethodStore((s) => s.setTrain);
  const targets = useMethodStore((s) => s.targets);
  const data = useDataStore((s) => s.info);
  const device = useLabDevice();
  const templatesId = useId();
  const head: HeadKind = train.head ?? 'linear';
  const templates = train.templates ?? [...DEFAULT_TEMPLATES];
  const [draft, setDraft] = useState(templates.join('\n'));
  const [draftError, setDraftError] = useState<string>();
  const [queueError, setQueueError] = useState<string>();
  const usable = !!info.text && !info.text.tokenizerError;

  // A model without a usable text tower cannot keep a zero-shot choice made for another model.
  useEffect(() => {
    if (!usable && head !== 'linear') setTrain({ head: 'linear' });
  }, [usable, head, setTrain]);
  // Follow changes made elsewhere (a preset button, a reset) but not the person's own typing:
  // blank lines and a line being written parse to the same list, so the draft stays as typed.
  const joined = templates.join('\n');
  useEffect(() => {
    setDraft((d) => (parsesTo(d, joined) ? d : joined));
  }, [joined]);

  // Only CLIP models have a choice of head (the reset above still runs for the others).
  if (info.family !== 'clip') return null;
  const dataNames = data?.classNames ?? [];
  const typed = train.classNames;
  const names = zeroShotClassNames(dataNames, typed);
  const numeric = numericClassNames(names);

  const editTemplates = (text: string) => {
    setDraft(text);
    try {
      setTrain({ templates: checkTemplates(text.split('\n'), 'The templates') });
      setDraftError(undefined);
    } catch (e) {
      setDraftError((e as Error).message);
    }
  };

  const queueZeroShot = async () => {
    setQueueError(undefined);
    try {
      await queueRuns([zeroShotRunSpec(newRunId(), train, effectiveTargets(targets, info))], { model: info.source, dataset: data?.source });
    } catch (e) {
      setQueueError(`The zero-shot run could not be queued: ${(e as Error).message}`);
    }
  };

  return (
    <div className="head-picker" data-testid="head-picker" data-head={head}>
      <h3>Classification head</h3>
      <div className="method-options" role="radiogroup" aria-label="Classification head">
        {HEAD_KINDS.map((k) => (
          <label key={k} className={`method-option${k === head ? ' selected' : ''}`} data-testid="head-option" data-head={k}>
            <input type="radio" name="head" value={k} checked={k === head} disabled={k !== 'linear' && !usable} onChange={() => setTrain({ head: k })} />
            <span>
              <strong>{HEAD_LABELS[k].label}</strong>
              <span className="muted field-help">{HEAD_LABELS[k].help}</span>
            </span>
          </label>
        ))}
      </div>
      {!info.text && (
        <p className="notice notice-warn" data-testid="head-needs-text">
          This CLIP checkpoint has only its vision tower. Zero-shot heads need the full CLIP checkpoint (both towers and tokenizer.json), e.g. {FULL_CLIP_IDS.slice(0, 2).join(' or ')}.
        </p>
      )}
      {info.text?.tokenizerError && (
        <p className="notice notice-warn" data-testid="head-tokenizer-error">
          {info.text.tokenizerError}
        </p>
      )}
      {usable && (
        <>
          <label htmlFor={templatesId}>
            <strong>Prompt templates</strong> <span className="muted">(one per line; {'{}'} is where the class name goes; each class’s embedding is the mean over them)</span>
          </label>
          <textarea id={templatesId} data-testid="head-templates" rows={Math.min(6, Math.max(2, templates.length))} value={draft} onChange={(e) => editTemplates(e.target.value)} />
          {draftError && (
            <p className="notice notice-error" data-testid="head-templates-error">
              {draftError}
            </p>
          )}
          <div className="head-template-sets">
            <button type="button" className="link-button" data-testid="head-templates-default" onClick={() => editTemplates(DEFAULT_TEMPLATES.join('\n'))}>
              The default prompt
            </button>{' '}
            <button type="button" className="link-button" data-testid="head-templates-clip" onClick={() => editTemplates(CLIP_PAPER_TEMPLATES.join('\n'))}>
              The CLIP paper’s {CLIP_PAPER_TEMPLATES.length} ImageNet templates
            </button>
          </div>
          <p className="muted" data-testid="head-template-count">
            {templates.length} template{templates.length === 1 ? '' : 's'}
            {names.length ? ` × ${names.length} classes = ${templates.length * names.length} prompts, e.g. “${samplePrompts(templates, names, 1)[0]}”` : ''}
          </p>
          {data && numeric && (
            <div className="notice notice-warn" data-testid="head-numeric-names">
              <p>{NUMERIC_NAMES_NOTE}</p>
            </div>
          )}
          {data && (numeric || typed) && (
            <div className="head-class-names" data-testid="head-class-names">
              {dataNames.map((n, i) => (
                <label key={i}>
                  {n}:{' '}
                  <input
                    type="text"
                    data-testid="head-class-name"
                    value={typed?.[i] ?? ''}
                    placeholder="class name"
                    onChange={(e) => {
                      const next = dataNames.map((_, j) => (j === i ? e.target.value : (typed?.[j] ?? '')));
                      setTrain({ classNames: next.some((v) => v.trim()) ? next : undefined });
                    }}
                  />
                </label>
              ))}
            </div>
          )}
          <p>
            <button type="button" data-testid="queue-zeroshot" disabled={!data || !device.isSuccess || numeric} onClick={queueZeroShot}>
              Run zero-shot (no training)
            </button>{' '}
            <span className="muted">the baseline every CLIP fine-tuning result is read against.</span>
          </p>
          {queueError && (
            <p className="notice notice-error" role="alert">
              {queueError}
            </p>
          )}
        </>
      )}
    </div>
  );
}
