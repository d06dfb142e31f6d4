import { applyDefaults } from '../core/apply-defaults.js';

/** The Server-Sent Events endpoint's own options (TaskStatusSseModule). */
export interface SseOptions {
  /**
   * Interval of `:` comment lines on every stream, so that proxies and load balancers do not
   * close a stream that has no update to carry; 0 disables. Default 15000.
   */
  heartbeatMs?: number;
  /** The `retry:` advice: how long an EventSource waits before it reconnects, at least. Default 3000. */
  retryMs?: number;
  /**
   * Up to this much is added to retryMs at random, per stream, so that clients whose streams end
   * together (a restart) do not all reconnect in the same instant. Default 2000.
   */
  retryJitterMs?: number;
  /**
   * Size of the comment sent first on every stream: some proxies and browsers hold back the first
   * kilobytes of a response. 0 sends none. Default 2048.
   */
  paddingBytes?: number;
}

export type ResolvedSseOptions = Required<SseOptions>;

export const SSE_OPTIONS = Symbol('SSE_OPTIONS');

export function resolveSseOptions(options?: SseOptions): ResolvedSseOptions {
  return applyDefaults(
    { heartbeatMs: 15_000, retryMs: 3_000, retryJitterMs: 2_000, paddingBytes: 2048 },
    options,
  );
}
