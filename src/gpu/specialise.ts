import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

export type Defines = Record<string, number | boolean | string>;

/**
 * Specialises a WGSL source held in a .wgsl file. The file writes `${NAME}` wherever a value goes,
 * including after `#if`/`#elif`; wgsl-preprocessor expects a tagged template, so the source is
 * split at those placeholders into the template's strings and values.
 */
export function specialise(source: string, defines: Defines, file = 'shader'): string {
  const strings: string[] = [];
  const values: Array<number | boolean | string> = [];
  const placeholder = /\$\{(\w+)\}/g;
  let last = 0;
  for (let m = placeholder.exec(source); m; m = placeholder.exec(source)) {
    const name = m[1];
    if (!(name in defines)) {
      throw new Error(`${file}: the WGSL source uses \${${name}} but no value was given for it`);
    }
    strings.push(source.slice(last, m.index));
    values.push(defines[name]);
    last = m.index + m[0].length;
  }
  strings.push(source.slice(last));
  const template = Object.assign(strings.slice(), { raw: strings.slice() }) as unknown as TemplateStringsArray;
  return wgsl(template, ...values);
}

/** f32 literal that WGSL accepts for any finite JS number (integers need a decimal point). */
export function f32Literal(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`cannot write ${x} as a WGSL f32 literal`);
  const s = String(Math.fround(x));
  return /[.eE]/.test(s) ? s : `${s}.0`;
}
