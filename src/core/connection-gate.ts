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
import { OpenConnections } from '../connections/open-connections.js';
import { isOriginAllowed } from '../connections/origin-policy.js';

/** Accept, or refuse with an HTTP status, body and headers (the shape of ws' verifyClient callback). */
export type AdmissionVerdict = (
  result: boolean,
  code?: number,
  message?: string,
  headers?: Record<string, string>,
) => void;

/** What emits `close` when the connection's slot is to be given back. */
export interface ClosingHandle {
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Every rule a new connection must pass, whatever its transport, in order: shutdown, origin, the
 * connection limit (all transports together), the per-address limit (shared too), then the token.
 * Each refusal is counted by reason. The WebSocket adapter asks it before a handshake, the
 * Server-Sent Events module before a stream's first byte; each counts its open connections in
 * OpenConnections.
 */
@Injectable()
export class ConnectionGate {
  private readonly connectionsPerIp: ConnectionsPerIp;

  constructor(
    @Inject(CONNECTION_LIMITS_OPTIONS) private readonly limits: ResolvedConnectionLimitsOptions,
    private readonly admission: ConnectionAdmission,
    private readonly authenticator: UpgradeAuthenticator,
    private readonly open: OpenConnections,
  ) {
    this.connectionsPerIp = new ConnectionsPerIp(limits.maxConnectionsPerIp);
  }

  /**
   * Decides one connection. The caller must count an accepted connection as open in the same
   * tick as `accept(true)` (ws adds an upgraded socket to its clients synchronously), so checking
   * the limit right before accepting keeps concurrent connections from overshooting it. Token
   * verification is asynchronous (a key set may have to be fetched): the limit and shutdown are
   * checked before it, to spare the work, and again after it, in the tick that accepts. An
   * accepted connection holds one of its address' slots until `heldUntil` emits `close`.
   */
  verify(
    request: IncomingMessage,
    heldUntil: ClosingHandle,
    accept: AdmissionVerdict,
    origin: string | undefined = request.headers.origin,
  ): void {
    if (!this.admission.accepting) return this.refuseShuttingDown(accept);
    if (!isOriginAllowed(origin, this.limits.allowedOrigins)) {
      this.admission.countRefusal('origin');
      return accept(false, 403, 'Origin not allowed');
    }
    if (this.open.of() >= this.limits.maxConnections) return this.refuseFull(accept);
    const address = this.connectionsPerIp.enabled
      ? clientAddressOf(request, this.limits.trustProxy)
      : '';
    if (this.connectionsPerIp.isFull(address)) return this.refusePerIp(accept);
    if (!this.authenticator.enabled) return this.acceptFrom(address, request, heldUntil, accept);
    void this.authenticator.authenticate(request).then((outcome) => {
      if (!outcome.ok) {
        this.admission.countRefusal('auth');
        return accept(false, outcome.status, outcome.body, outcome.headers);
      }
      if (!this.admission.accepting) return this.refuseShuttingDown(accept);
      if (this.open.of() >= this.limits.maxConnections) return this.refuseFull(accept);
      this.acceptFrom(address, request, heldUntil, accept);
    });
  }

  private acceptFrom(
    address: string,
    request: IncomingMessage,
    heldUntil: ClosingHandle,
    accept: AdmissionVerdict,
  ): void {
    if (this.connectionsPerIp.enabled && !request.socket.destroyed) {
      if (!this.connectionsPerIp.tryAcquire(address)) return this.refusePerIp(accept);
      heldUntil.once('close', () => this.connectionsPerIp.release(address));
    }
    accept(true);
  }

  private refusePerIp(accept: AdmissionVerdict): void {
    this.admission.countRefusal('per_ip');
    accept(false, 429, 'Too many connections from this address', { 'Retry-After': '5' });
  }

  private refuseShuttingDown(accept: AdmissionVerdict): void {
    this.admission.countRefusal('shutting_down');
    accept(false, 503, 'Server is shutting down', { 'Retry-After': '1' });
  }

  private refuseFull(accept: AdmissionVerdict): void {
    this.admission.countRefusal('limit');
    accept(false, 503, 'Too many connections', { 'Retry-After': '5' });
  }
}
