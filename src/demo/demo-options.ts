import { applyDefaults } from '../core/apply-defaults.js';

export interface DemoOptions {
  /** Serve the demo page at `/` (and the typed client at `/client/`); 404 when off. Default true. */
  page?: boolean;
  /** Enable `POST /demo/simulate`, which publishes a fake task to Redis. Development only. Default false. */
  publishEnabled?: boolean;
}

export type ResolvedDemoOptions = Required<DemoOptions>;

export const DEMO_OPTIONS = Symbol('DEMO_OPTIONS');

export function resolveDemoOptions(options?: DemoOptions): ResolvedDemoOptions {
  return applyDefaults({ page: true, publishEnabled: false }, options);
}
