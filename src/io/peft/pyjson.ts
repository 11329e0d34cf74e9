/**
 * JSON as Python's `json.dumps(obj, indent=2, sort_keys=True)` writes it: keys sorted by code
 * point, two-space indent, ", " never used between items (indent puts them on lines), ASCII only
 * (`\uXXXX` escapes), floats in Python's repr (0.0, 1e-05). JSON.parse loses the int/float
 * distinction, so keys whose values Python holds as floats are named in `floatKeys`.
 */
import { pythonFloat } from '../../models/makeModel';

function pyString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function value(v: unknown, indent: string, asFloat: boolean, floatKeys: ReadonlySet<string>): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return asFloat || !Number.isInteger(v) ? pythonFloat(v) : String(v);
  if (typeof v === 'string') return pyString(v);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return `[\n${v.map((x) => inner + value(x, inner, asFloat, floatKeys)).join(',\n')}\n${indent}]`;
  }
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (!keys.length) return '{}';
    return `{\n${keys.map((k) => `${inner}${pyString(k)}: ${value(o[k], inner, floatKeys.has(k), floatKeys)}`).join(',\n')}\n${indent}}`;
  }
  throw new Error(`pythonJson: cannot serialise a ${typeof v}`);
}

/** `json.dumps(obj, indent=2, sort_keys=True)`, without a trailing newline (PEFT writes none). */
export function pythonJson(obj: unknown, floatKeys: Iterable<string> = []): string {
  return value(obj, '', false, new Set(floatKeys));
}
