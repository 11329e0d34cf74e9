import { defineRuntime } from '../define';

/** Nothing to build: only the classification head trains. */
export default defineRuntime<Record<string, never>>({
  create: () => ({ method: 'probe', layers: new Map(), shared: new Map(), trainsBackbone: false, release() {} }),
});
