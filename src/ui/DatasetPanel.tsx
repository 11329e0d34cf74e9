/** Placeholder until this panel is built. */
export function DatasetPanel() {
  return null;
}
