import { useEffect, useId, useState, type ReactNode } from 'react';

/**
 * A number input that hands on only valid values, at once, and says what is wrong with the
 * others next to the field. `check` returns an error message, or undefined when the value is fine.
 */
export function NumberField({
  label,
  value,
  onChange,
  check,
  step,
  min,
  max,
  placeholder,
  testId,
  help,
  disabled,
  allowEmpty,
}: {
  label: ReactNode;
  value: number | undefined;
  onChange: (v: number | undefined) => void;
  check?: (v: number) => string | undefined;
  step?: number;
  min?: number;
  max?: number;
  placeholder?: string;
  testId?: string;
  help?: ReactNode;
  disabled?: boolean;
  /** An empty field means "none" (undefined) rather than an error. */
  allowEmpty?: boolean;
}) {
  const id = useId();
  const [text, setText] = useState(value === undefined ? '' : String(value));
  const [error, setError] = useState<string>();
  // Follow changes made elsewhere (a reset, another control) unless the field holds the same number.
  useEffect(() => {
    setText((t) => {
      const same = t.trim() === '' ? value === undefined : Number(t) === value;
      return same ? t : value === undefined ? '' : String(value);
    });
  }, [value]);
  const commit = (t: string) => {
    setText(t);
    if (t.trim() === '') {
      if (allowEmpty) {
        setError(undefined);
        onChange(undefined);
      } else setError('Enter a number.');
      return;
    }
    const v = Number(t);
    const problem = !Number.isFinite(v) ? `"${t}" is not a number.` : check?.(v);
    setError(problem);
    if (!problem) onChange(v);
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode="decimal"
        value={text}
        step={step}
        min={min}
        max={max}
        placeholder={placeholder}
        disabled={disabled}
        aria-invalid={!!error}
        data-testid={testId}
        onChange={(e) => commit(e.target.value)}
      />
      {error ? (
        <p className="field-error" role="alert" data-testid={testId ? `${testId}-error` : undefined}>
          {error}
        </p>
      ) : (
        help && <p className="field-help">{help}</p>
      )}
    </div>
  );
}

export const wholeNumber = (lo: number, what: string) => (v: number) => (Number.isInteger(v) && v >= lo ? undefined : `${what} must be a whole number of at least ${lo}.`);
