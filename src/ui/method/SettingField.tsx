import { useEffect, useId, useState } from 'react';
import { formatField, parseField, type FieldSpec, type FieldValue } from './fields';

/**
 * One labelled setting with its sentence of help. Typing is free; a value reaches the store only
 * once it is valid, and until then the field says what it accepts.
 */
export function SettingField({
  spec,
  value,
  onChange,
  testId,
}: {
  spec: FieldSpec;
  value: unknown;
  onChange: (v: FieldValue) => void;
  testId: string;
}) {
  const id = useId();
  const shown = formatField(spec, value);
  const [draft, setDraft] = useState(shown);
  const [error, setError] = useState<string>();
  // Follow changes made elsewhere (a reset, a link) unless the person is mid-way through typing the same value.
  useEffect(() => {
    setDraft((d) => {
      const r = parseField(spec, d);
      return 'value' in r && r.value === value ? d : shown;
    });
    setError(undefined);
  }, [shown, spec, value]);

  if (spec.kind === 'bool') {
    return (
      <div className="setting setting-bool">
        <label htmlFor={id}>
          <input id={id} type="checkbox" data-testid={testId} checked={value === true} onChange={(e) => onChange(e.target.checked)} /> {spec.label}
        </label>
        <p className="muted field-help">{spec.help}</p>
      </div>
    );
  }
  if (spec.kind === 'choice') {
    return (
      <div className="setting">
        <label htmlFor={id}>{spec.label}</label>
        <select id={id} data-testid={testId} value={String(value)} onChange={(e) => onChange(e.target.value)}>
          {spec.choices?.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
        <p className="muted field-help">{spec.help}</p>
      </div>
    );
  }
  return (
    <div className="setting">
      <label htmlFor={id}>{spec.label}</label>
      <input
        id={id}
        data-testid={testId}
        type="text"
        inputMode={spec.kind === 'int' ? 'numeric' : 'decimal'}
        value={draft}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-help`}
        spellCheck={false}
        onChange={(e) => {
          setDraft(e.target.value);
          const r = parseField(spec, e.target.value);
          if ('error' in r) setError(r.error);
          else {
            setError(undefined);
            if (r.value !== value) onChange(r.value);
          }
        }}
        onBlur={() => {
          // Leaving a field with a bad value puts back the value in use.
          if (error) {
            setDraft(shown);
            setError(undefined);
          }
        }}
      />
      {error ? (
        <p className="field-error" role="alert" data-testid={`${testId}-error`}>
          {error} The last valid value, {shown}, is still in use.
        </p>
      ) : (
        <p className="muted field-help" id={`${id}-help`}>
          {spec.help}
        </p>
      )}
    </div>
  );
}
