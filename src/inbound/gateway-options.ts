import { applyDefaults } from '../core/apply-defaults.js';

/** The WebSocket endpoint's own options (TaskStatusGatewayModule). */
export interface GatewayOptions {
  /** Largest inbound frame in bytes; larger frames close the connection with 1009. Default 4096. */
  maxMessageBytes?: number;
  /** Interval of protocol pings; a connection that misses a pong is dropped. 0 disables. Default 30000. */
  heartbeatIntervalMs?: number;
  /**
   * Offer permessage-deflate to clients. Off by default: task updates are small, and compressing
   * each one for each socket costs CPU on the hot path. Default false.
   */
  perMessageDeflate?: boolean;
  /** Messages per second one connection may send, sustained; past it, `rate_limited` errors. 0 turns the limit off. Default 20. */
  rateLimitPerSecond?: number;
  /**
   * Messages one connection may send at once (the token bucket's size). Keep it above
   * the subscription limit: a reconnecting client resubscribes all at once. Default 120.
   */
  rateLimitBurst?: number;
  /** `rate_limited` answers per connection within rateLimitViolationWindowMs; the next over-limit message closes it (1008). Default 10. */
  rateLimitMaxViolations?: number;
  /** The window of rateLimitMaxViolations. Default 10000. */
  rateLimitViolationWindowMs?: number;
  /**
   * HTTP requests (WebSocket upgrades included) whose headers are not complete within this time
   * are cut off, as are connections that send nothing; applied by configureApplication. Default 10000.
   */
  handshakeTimeoutMs?: number;
  /** Time budget for closing sockets on shutdown. Default 10000. */
  shutdownTimeoutMs?: number;
  /**
   * On shutdown, sockets are closed in jittered batches spread over this window (at most a
   * quarter of shutdownTimeoutMs), so their clients do not all reconnect at once. Default 2000.
   */
  drainWindowMs?: number;
}

export type ResolvedGatewayOptions = Required<GatewayOptions>;

export const GATEWAY_OPTIONS = Symbol('GATEWAY_OPTIONS');

export function resolveGatewayOptions(options?: GatewayOptions): ResolvedGatewayOptions {
  return applyDefaults(
    {
      maxMessageBytes: 4096,
      heartbeatIntervalMs: 30_000,
      perMessageDeflate: false,
      rateLimitPerSecond: 20,
      rateLimitBurst: 120,
      rateLimitMaxViolations: 10,
      rateLimitViolationWindowMs: 10_000,
      handshakeTimeoutMs: 10_000,
      shutdownTimeoutMs: 10_000,
      drainWindowMs: 2_000,
    },
    options,
  );
}
