import { applyDefaults } from '../core/apply-defaults.js';

/** Who may connect and how much one connection may hold, whatever the transport. */
export interface ConnectionLimitsOptions {
  /** Concurrent connections per instance; the next upgrade gets HTTP 503. Default 1000. */
  maxConnections?: number;
  /** Concurrent connections per client address; the next upgrade gets HTTP 429. 0 turns the limit off. Default 0. */
  maxConnectionsPerIp?: number;
  /** Proxies in front of the service whose X-Forwarded-For entries are trusted for the client address; 0 uses the socket's address. Default 0. */
  trustProxy?: number;
  /** Allowed `Origin`s of browser upgrades (and CORS); empty allows all. Default []. */
  allowedOrigins?: string[];
  /** Subscriptions one connection may hold. Default 100. */
  maxSubscriptionsPerConnection?: number;
  /** Group subscriptions one connection may hold; they count in maxSubscriptionsPerConnection too. Default 10. */
  maxGroupsPerConnection?: number;
}

export type ResolvedConnectionLimitsOptions = Required<ConnectionLimitsOptions>;

export const CONNECTION_LIMITS_OPTIONS = Symbol('CONNECTION_LIMITS_OPTIONS');

export function resolveConnectionLimitsOptions(
  options?: ConnectionLimitsOptions,
): ResolvedConnectionLimitsOptions {
  return applyDefaults(
    {
      maxConnections: 1000,
      maxConnectionsPerIp: 0,
      trustProxy: 0,
      allowedOrigins: [],
      maxSubscriptionsPerConnection: 100,
      maxGroupsPerConnection: 10,
    },
    options,
  );
}
