/** Placeholder until this panel is built. */
export function ModelPanel() {
  return null;
}
