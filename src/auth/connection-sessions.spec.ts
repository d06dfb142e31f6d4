import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import {
  ConnectionSessions,
  TOKEN_EXPIRED_CLOSE,
  type ClosableSocket,
} from './connection-sessions.js';
import type { Principal } from './principal.js';
import { resolveAuthOptions } from './resolve-auth-options.js';

const NOW_MS = 1_800_000_000_000;

class FakeSocket implements ClosableSocket {
  closes: Array<[number, string]> = [];
  close(code: number, reason: string): void {
    this.closes.push([code, reason]);
  }
}

function principal(expiresInSeconds: number | undefined): Principal {
  const expiresAt = expiresInSeconds === undefined ? undefined : NOW_MS / 1000 + expiresInSeconds;
  return { subject: 'alice', claims: { sub: 'alice', exp: expiresAt }, expiresAt };
}

function sessionsWith(clockToleranceSeconds: number): ConnectionSessions<FakeSocket> {
  const options = resolveAuthOptions({
    jwtSecret: 'a-shared-secret-of-at-least-32-bytes',
    clockToleranceSeconds,
  });
  return new ConnectionSessions<FakeSocket>(options);
}

function opened(sessions: ConnectionSessions<FakeSocket>, who: Principal): FakeSocket {
  const request = {} as IncomingMessage;
  const socket = new FakeSocket();
  sessions.admit(request, who);
  assert.equal(sessions.open(socket, request), true);
  return socket;
}

describe('ConnectionSessions', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: NOW_MS }));
  afterEach(() => mock.timers.reset());

  it('closes the socket with 4001 when exp plus the tolerance passes, not before', () => {
    // Arrange
    const sessions = sessionsWith(5);
    const socket = opened(sessions, principal(60));

    // Act / Assert
    mock.timers.tick(64_999);
    assert.deepEqual(socket.closes, []);
    assert.ok(sessions.principalOf(socket));
    mock.timers.tick(1);
    assert.deepEqual(socket.closes, [[4001, 'Token expired']]);
    assert.equal(sessions.principalOf(socket), undefined);
    assert.deepEqual(TOKEN_EXPIRED_CLOSE, { code: 4001, reason: 'Token expired' });
  });

  it('re-arms the timer for a replaced token', () => {
    // Arrange
    const sessions = sessionsWith(0);
    const socket = opened(sessions, principal(10));

    // Act
    mock.timers.tick(5_000);
    sessions.replace(socket, principal(30));
    mock.timers.tick(10_000);

    // Assert
    assert.deepEqual(socket.closes, []);
    mock.timers.tick(15_000);
    assert.equal(socket.closes.length, 1);
  });

  it('never expires a token without exp, and forgets a closed socket', () => {
    // Arrange
    const sessions = sessionsWith(0);
    const forever = opened(sessions, principal(undefined));
    const closing = opened(sessions, principal(1));

    // Act
    sessions.close(closing);
    mock.timers.tick(100 * 24 * 3600 * 1000);

    // Assert
    assert.deepEqual(forever.closes, []);
    assert.deepEqual(closing.closes, []);
    assert.ok(sessions.principalOf(forever));
    assert.equal(sessions.size, 1);
  });

  it('waits out expiries beyond what one timer can (about 24.8 days)', () => {
    // Arrange
    const sessions = sessionsWith(0);
    const socket = opened(sessions, principal(40 * 24 * 3600));

    // Act / Assert
    mock.timers.tick(30 * 24 * 3600 * 1000);
    assert.deepEqual(socket.closes, []);
    mock.timers.tick(10 * 24 * 3600 * 1000);
    assert.equal(socket.closes.length, 1);
  });

  it('opens no session for a request that was not admitted', () => {
    const sessions = sessionsWith(0);
    assert.equal(sessions.open(new FakeSocket(), {} as IncomingMessage), false);
    assert.equal(sessions.open(new FakeSocket(), undefined), false);
  });
});
