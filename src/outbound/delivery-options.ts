import { applyDefaults } from '../core/apply-defaults.js';

/** How far a socket that reads slowly may fall behind before it is closed. */
export interface DeliveryOptions {
  /** Above this many bytes in a socket's send buffer, its frames are held back and coalesced. Default 262144. */
  backpressureBytes?: number;
  /** A slow socket whose buffered plus held-back bytes exceed this is closed with 1013. Default 2097152. */
  slowClientMaxBytes?: number;
  /**
   * A socket held back (see backpressureBytes) that reads nothing for this long is closed with
   * 1013; 0 leaves it to the heartbeat. Default 10000.
   */
  slowClientStallMs?: number;
  /**
   * A socket closed with 1013 gets this long to complete the close handshake, reading what it had
   * not read before the close frame; then its TCP connection is cut. Default 2000.
   */
  slowClientCloseGraceMs?: number;
}

export type ResolvedDeliveryOptions = Required<DeliveryOptions>;

export const DELIVERY_OPTIONS = Symbol('DELIVERY_OPTIONS');

export function resolveDeliveryOptions(options?: DeliveryOptions): ResolvedDeliveryOptions {
  return applyDefaults(
    {
      backpressureBytes: 256 * 1024,
      slowClientMaxBytes: 2 * 1024 * 1024,
      slowClientStallMs: 10_000,
      slowClientCloseGraceMs: 2_000,
    },
    options,
  );
}
