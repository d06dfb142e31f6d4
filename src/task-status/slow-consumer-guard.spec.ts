import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { WebSocket } from 'ws';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { CloseCode } from './protocol.js';
import { resolveTaskStatusOptions } from './resolve-task-status-options.js';
import { SlowConsumerGuard } from './slow-consumer-guard.js';

/** A socket whose send buffer the test sets; records sends and closes. */
class FakeSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly sends: string[] = [];
  closedWith: [number, string] | undefined;

  send(data: Buffer): void {
    this.sends.push(data.toString());
  }

  close(code: number, reason: string): void {
    this.closedWith = [code, reason];
    this.readyState = WebSocket.CLOSING;
  }

  terminate(): void {
    this.readyState = WebSocket.CLOSED;
  }
}

/**
 * Moves the mocked time in steps of the flush interval: Node 20's tick() runs every timer that
 * falls due with the clock already at the end of the whole step.
 */
function advance(ms: number): void {
  for (let moved = 0; moved < ms; moved += 20) mock.timers.tick(Math.min(20, ms - moved));
}

describe('SlowConsumerGuard', () => {
  const guards: SlowConsumerGuard[] = [];
  // The flush interval and the guard's clock (performance.now) move only when the test advances:
  // with real ones, a busy machine's late turn looked like a socket that had stopped reading.
  beforeEach(() => {
    mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    mock.method(performance, 'now', () => Date.now());
  });
  afterEach(() => {
    guards.splice(0).forEach((guard) => guard.onModuleDestroy());
    mock.timers.reset();
    mock.restoreAll();
  });

  function setUp(slowClientStallMs: number) {
    const counters = new DeliveryCounters();
    const options = resolveTaskStatusOptions({ redisUrl: 'redis://unused', slowClientStallMs });
    const guard = new SlowConsumerGuard(options, counters);
    guards.push(guard);
    const socket = new FakeSocket();
    // Above WS_BACKPRESSURE_BYTES (256 KiB), under WS_SLOW_CLIENT_MAX_BYTES (2 MiB).
    socket.bufferedAmount = 512 * 1024;
    guard.send(socket as unknown as WebSocket, 't', Buffer.from('{"n":1}'), false);
    return { guard, counters, socket };
  }

  it('closes a held-back socket that reads nothing for WS_SLOW_CLIENT_STALL_MS (1013)', () => {
    const { guard, counters, socket } = setUp(100);
    assert.equal(guard.backloggedCount, 1);
    advance(80);
    assert.equal(socket.closedWith, undefined, 'not before the stall limit');
    advance(20);
    assert.deepEqual(socket.closedWith, [CloseCode.TRY_AGAIN_LATER, 'Client stopped reading']);
    assert.equal(socket.readyState, WebSocket.CLOSED);
    assert.equal(counters.slowConsumerCloses, 1);
    assert.equal(guard.backloggedCount, 0);
    assert.deepEqual(socket.sends, []);
  });

  it('keeps a socket that reads, however slowly, and flushes to it once it drains', () => {
    const { guard, socket } = setUp(100);
    // A few KiB read every 20 ms: still above the threshold, but never stalled.
    const reading = setInterval(() => (socket.bufferedAmount -= 4096), 20);
    try {
      advance(400);
      assert.equal(socket.closedWith, undefined);
      assert.equal(guard.backloggedCount, 1);
    } finally {
      clearInterval(reading);
    }
    socket.bufferedAmount = 0;
    advance(20);
    assert.deepEqual(socket.sends, ['{"n":1}']);
    assert.equal(guard.backloggedCount, 0);
  });

  it('closes sockets that stalled together over several flushes, 20 at a time', () => {
    const { guard, socket: first } = setUp(50);
    const sockets = [first];
    for (let index = 1; index < 50; index += 1) {
      const socket = new FakeSocket();
      socket.bufferedAmount = 512 * 1024;
      guard.send(socket as unknown as WebSocket, 't', Buffer.from('{"n":1}'), false);
      sockets.push(socket);
    }
    const closed = () => sockets.filter((socket) => socket.closedWith !== undefined).length;
    advance(40);
    assert.equal(closed(), 0, 'not before the stall limit');
    advance(20);
    assert.equal(closed(), 20, 'closed in the first flush past the limit');
    advance(20);
    assert.equal(closed(), 40);
    advance(20);
    assert.equal(closed(), 50);
  });

  it('leaves a stalled socket to the heartbeat when the stall limit is 0', () => {
    const { guard, socket } = setUp(0);
    advance(300);
    assert.equal(socket.closedWith, undefined);
    assert.equal(guard.backloggedCount, 1);
  });
});
