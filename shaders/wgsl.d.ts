// WGSL sources are imported as plain text (the Vite plugin in vite.config.ts and esbuild's text
// loader in scripts/run-ts.mjs both do this), then specialised at run time.
declare module '*.wgsl' {
  const source: string;
  export default source;
}

// wgsl-preprocessor ships plain JavaScript without a package entry point or types.
declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  export function wgsl(strings: TemplateStringsArray, ...values: unknown[]): string;
}
