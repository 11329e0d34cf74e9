import { defineRuntime } from '../define';

/** Nothing to build: the trainer trains the backbone's own weights. */
export default defineRuntime<Record<string, never>>({
  create: () => ({ method: 'full', layers: new Map(), shared: new Map(), trainsBackbone: true, release() {} }),
});
