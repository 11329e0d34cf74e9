/** Placeholder until this panel is built. */
export function RunsPanel() {
  return null;
}
