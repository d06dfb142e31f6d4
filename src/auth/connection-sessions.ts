import { Inject, Injectable } from '@nestjs/common';
import { CloseCode } from '@task-status/client/protocol';
import type { IncomingMessage } from 'node:http';
import { CLOCK, systemClock, type Clock, type ClockTimer } from '../clock/clock.js';
import { AUTH_OPTIONS, type ResolvedAuthOptions } from './auth-options.js';
import type { Principal } from './principal.js';

/** What a session needs of a socket: to be closed when its token expires. */
export interface ClosableSocket {
  close(code: number, reason: string): void;
}

/** Close code and reason of a connection whose token expired (docs/protocol.md). */
export const TOKEN_EXPIRED_CLOSE = {
  code: CloseCode.TOKEN_EXPIRED,
  reason: 'Token expired',
} as const;

// setTimeout cannot wait longer; a later expiry is re-armed when this one fires.
const MAX_TIMER_MS = 2_147_483_647;

interface Session {
  principal: Principal;
  timer: ClockTimer | undefined;
}

/**
 * The principal of each authenticated connection, from the verified upgrade to the close, and
 * the timer that closes the connection (4001) when its token expires. A token without `exp`
 * never expires the connection.
 */
@Injectable()
export class ConnectionSessions<S extends ClosableSocket = ClosableSocket> {
  private readonly admitted = new WeakMap<IncomingMessage, Principal>();
  private readonly sessions = new Map<S, Session>();

  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: ResolvedAuthOptions,
    // Times token expiry; tests move it by hand.
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  /** Remembers the principal of a verified upgrade until its socket opens. */
  admit(request: IncomingMessage, principal: Principal): void {
    this.admitted.set(request, principal);
  }

  /** Starts the session of an opened socket; false when its upgrade carried no principal. */
  open(socket: S, request: IncomingMessage | undefined): boolean {
    const principal = request && this.admitted.get(request);
    if (!principal) return false;
    this.admitted.delete(request);
    this.sessions.set(socket, { principal, timer: undefined });
    this.arm(socket, principal);
    return true;
  }

  /** The socket's principal while its token is valid (undefined once it expired). */
  principalOf(socket: S): Principal | undefined {
    const principal = this.sessions.get(socket)?.principal;
    if (!principal || this.msUntilExpiry(principal) <= 0) return undefined;
    return principal;
  }

  /** A refreshed token: the new principal, and the expiry timer re-armed for it. */
  replace(socket: S, principal: Principal): void {
    const session = this.sessions.get(socket);
    if (!session) return;
    this.clock.clearTimeout(session.timer);
    session.principal = principal;
    this.arm(socket, principal);
  }

  close(socket: S): void {
    this.clock.clearTimeout(this.sessions.get(socket)?.timer);
    this.sessions.delete(socket);
  }

  get size(): number {
    return this.sessions.size;
  }

  private arm(socket: S, principal: Principal): void {
    const session = this.sessions.get(socket);
    if (!session || principal.expiresAt === undefined) return;
    const delay = this.msUntilExpiry(principal);
    session.timer = this.clock.setTimeout(
      () => {
        session.timer = undefined;
        if (this.sessions.get(socket)?.principal !== principal) return;
        if (this.msUntilExpiry(principal) > 0) return this.arm(socket, principal);
        socket.close(TOKEN_EXPIRED_CLOSE.code, TOKEN_EXPIRED_CLOSE.reason);
      },
      Math.min(Math.max(delay, 0), MAX_TIMER_MS),
    );
    // Open connections keep the process alive, not their timers.
    session.timer.unref();
  }

  /** Time left: `exp` plus the clock tolerance, as jose counts it when verifying. */
  private msUntilExpiry(principal: Principal): number {
    if (principal.expiresAt === undefined) return Infinity;
    return (principal.expiresAt + this.options.clockToleranceSeconds) * 1000 - this.clock.now();
  }
}
