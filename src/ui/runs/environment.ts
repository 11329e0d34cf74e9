/**
 * Where a run trained, for the record a run file carries: the GPU adapter (as the page inspected
 * it) and the browser. Kept apart from the GPU hook so the run code can read it outside React.
 */
import type { AdapterSummary } from '../../gpu/device';

export interface RunEnvironment {
  adapter?: Pick<AdapterSummary, 'vendor' | 'architecture' | 'device' | 'description' | 'isSoftware'>;
  /** navigator.userAgent. */
  browser: string;
}

let adapter: RunEnvironment['adapter'];

/** Called with the adapter the page found (useGpu). */
export function rememberAdapter(summary: AdapterSummary): void {
  const { vendor, architecture, device, description, isSoftware } = summary;
  adapter = { vendor, architecture, device, description, isSoftware };
}

export function currentEnvironment(): RunEnvironment {
  return { ...(adapter ? { adapter } : {}), browser: typeof navigator === 'undefined' ? 'unknown' : navigator.userAgent };
}
