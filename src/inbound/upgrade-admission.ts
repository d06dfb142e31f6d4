import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { UpgradeAuthenticator } from '../auth/upgrade-authenticator.js';
import { clientAddressOf } from '../connections/client-address.js';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import {
  CONNECTION_LIMITS_OPTIONS,
  type ResolvedConnectionLimitsOptions,
} from '../connections/connection-limits-options.js';
import { ConnectionsPerIp } from '../connections/connections-per-ip.js';
import { isOriginAllowed } from './origin-policy.js';

/** ws' verifyClient callback: accept, or refuse with an HTTP status, body and headers. */
export type UpgradeVerdict = (
  result: boolean,
  code?: number,
  message?: string,
  headers?: Record<string, string>,
) => void;

export interface UpgradeRequest {
  origin: string | undefined;
  req: IncomingMessage;
}

/**
 * Every rule an upgrade must pass before its handshake, in order: shutdown, origin, the
 * connection limit, the per-address limit, then the token. Each refusal is counted by reason.
 */
@Injectable()
export class UpgradeAdmission {
  private readonly connectionsPerIp: ConnectionsPerIp;

  constructor(
    @Inject(CONNECTION_LIMITS_OPTIONS) private readonly limits: ResolvedConnectionLimitsOptions,
    private readonly admission: ConnectionAdmission,
    private readonly authenticator: UpgradeAuthenticator,
  ) {
    this.connectionsPerIp = new ConnectionsPerIp(limits.maxConnectionsPerIp);
  }

  /**
   * Decides one upgrade. ws adds an accepted socket to its clients in the same tick as
   * `accept(true)`, so checking the limit right before accepting, synchronously, keeps
   * concurrent upgrades from overshooting it. Token verification is asynchronous (a key set may
   * have to be fetched): the limit and shutdown are checked before it, to spare the work, and
   * again after it, in the tick that accepts.
   */
  verify(upgrade: UpgradeRequest, accept: UpgradeVerdict, openConnections: () => number): void {
    if (!this.admission.accepting) return this.refuseShuttingDown(accept);
    if (!isOriginAllowed(upgrade.origin, this.limits.allowedOrigins)) {
      this.admission.countRefusal('origin');
      return accept(false, 403, 'Origin not allowed');
    }
    if (openConnections() >= this.limits.maxConnections) return this.refuseFull(accept);
    const address = this.connectionsPerIp.enabled
      ? clientAddressOf(upgrade.req, this.limits.trustProxy)
      : '';
    if (this.connectionsPerIp.isFull(address)) return this.refusePerIp(accept);
    if (!this.authenticator.enabled) return this.acceptFrom(address, upgrade.req, accept);
    void this.authenticator.authenticate(upgrade.req).then((outcome) => {
      if (!outcome.ok) {
        this.admission.countRefusal('auth');
        return accept(false, outcome.status, outcome.body, outcome.headers);
      }
      if (!this.admission.accepting) return this.refuseShuttingDown(accept);
      if (openConnections() >= this.limits.maxConnections) return this.refuseFull(accept);
      this.acceptFrom(address, upgrade.req, accept);
    });
  }

  /**
   * Accepts, holding one of the address' slots (maxConnectionsPerIp) until the TCP socket
   * closes, which it does whether or not the handshake then completes.
   */
  private acceptFrom(address: string, request: IncomingMessage, accept: UpgradeVerdict): void {
    const socket = request.socket;
    if (this.connectionsPerIp.enabled && !socket.destroyed) {
      if (!this.connectionsPerIp.tryAcquire(address)) return this.refusePerIp(accept);
      socket.once('close', () => this.connectionsPerIp.release(address));
    }
    accept(true);
  }

  private refusePerIp(accept: UpgradeVerdict): void {
    this.admission.countRefusal('per_ip');
    accept(false, 429, 'Too many connections from this address', { 'Retry-After': '5' });
  }

  private refuseShuttingDown(accept: UpgradeVerdict): void {
    this.admission.countRefusal('shutting_down');
    accept(false, 503, 'Server is shutting down', { 'Retry-After': '1' });
  }

  private refuseFull(accept: UpgradeVerdict): void {
    this.admission.countRefusal('limit');
    accept(false, 503, 'Too many connections', { 'Retry-After': '5' });
  }
}
