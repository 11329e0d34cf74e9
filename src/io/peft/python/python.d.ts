// Python sources are imported as plain text (the Vite plugin in vite.config.ts and esbuild's text
// loader in scripts/run-ts.mjs), so exports can carry them as files.
declare module '*.py' {
  const source: string;
  export default source;
}
