/** Placeholder until this panel is built. */
export function MethodPanel() {
  return null;
}
