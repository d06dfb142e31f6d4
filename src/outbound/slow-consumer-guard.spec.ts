import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { afterEach, describe, it, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { CloseCode } from '@task-status/client/protocol';
import { resolveDeliveryOptions, type DeliveryOptions } from './delivery-options.js';
import { LiveUpdateRun } from './live-update-run.js';
import { SlowConsumerGuard } from './slow-consumer-guard.js';

/** A socket whose send buffer the test sets; records sends, closes and terminations. */
class FakeSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly sends: string[] = [];
  closedWith: [number, string] | undefined;
  terminated = false;

  send(data: Buffer): void {
    this.sends.push(data.toString());
  }

  close(code: number, reason: string): void {
    this.closedWith = [code, reason];
    this.readyState = WebSocket.CLOSING;
  }

  terminate(): void {
    this.terminated = true;
    this.readyState = WebSocket.CLOSED;
  }
}

async function waitFor(condition: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The flush interval, the grace timer and the guard's clock (performance.now) move only when the
 * test advances them: with real ones, a busy machine's late turn looks like a socket that stopped
 * reading.
 */
function mockClock(t: TestContext): void {
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 0 });
  t.mock.method(performance, 'now', () => Date.now());
}

/**
 * Moves the mocked time in steps of the flush interval: Node 20's tick() runs every timer that
 * falls due with the clock already at the end of the whole step.
 */
function advance(t: TestContext, ms: number): void {
  for (let moved = 0; moved < ms; moved += 20) t.mock.timers.tick(Math.min(20, ms - moved));
}

describe('SlowConsumerGuard', () => {
  const guards: SlowConsumerGuard[] = [];
  afterEach(() => guards.splice(0).forEach((guard) => guard.onModuleDestroy()));

  function setUp(slowClientStallMs: number, more: DeliveryOptions = {}) {
    const counters = new DeliveryCounters();
    const options = resolveDeliveryOptions({ slowClientStallMs, ...more });
    const guard = new SlowConsumerGuard(options, counters);
    guards.push(guard);
    const socket = new FakeSocket();
    // Above WS_BACKPRESSURE_BYTES (256 KiB), under WS_SLOW_CLIENT_MAX_BYTES (2 MiB).
    socket.bufferedAmount = 512 * 1024;
    guard.send(socket as unknown as WebSocket, 't', Buffer.from('{"n":1}'), false);
    return { guard, counters, socket };
  }

  it('closes a held-back socket that reads nothing for WS_SLOW_CLIENT_STALL_MS (1013)', (t) => {
    mockClock(t);
    const { guard, counters, socket } = setUp(100);
    assert.equal(guard.backloggedCount, 1);
    advance(t, 80);
    assert.equal(socket.closedWith, undefined, 'not before the stall limit');
    advance(t, 20);
    assert.deepEqual(socket.closedWith, [CloseCode.TRY_AGAIN_LATER, 'Client stopped reading']);
    assert.equal(counters.slowConsumerCloses, 1);
    assert.equal(guard.backloggedCount, 0);
    assert.deepEqual(socket.sends, []);
  });

  it('keeps a socket that reads, however slowly, and flushes to it once it drains', (t) => {
    mockClock(t);
    const { guard, socket } = setUp(100);
    // A few KiB read every 20 ms: still above the threshold, but never stalled.
    const reading = setInterval(() => (socket.bufferedAmount -= 4096), 20);
    try {
      advance(t, 400);
      assert.equal(socket.closedWith, undefined);
      assert.equal(guard.backloggedCount, 1);
    } finally {
      clearInterval(reading);
    }
    socket.bufferedAmount = 0;
    advance(t, 20);
    assert.deepEqual(socket.sends, ['{"n":1}']);
    assert.equal(guard.backloggedCount, 0);
  });

  it('closes sockets that stalled together over several flushes, 20 at a time', (t) => {
    mockClock(t);
    const { guard, socket: first } = setUp(50);
    const sockets = [first];
    for (let index = 1; index < 50; index += 1) {
      const socket = new FakeSocket();
      socket.bufferedAmount = 512 * 1024;
      guard.send(socket as unknown as WebSocket, 't', Buffer.from('{"n":1}'), false);
      sockets.push(socket);
    }
    const closed = () => sockets.filter((socket) => socket.closedWith !== undefined).length;
    advance(t, 40);
    assert.equal(closed(), 0, 'not before the stall limit');
    advance(t, 20);
    assert.equal(closed(), 20, 'closed in the first flush past the limit');
    advance(t, 20);
    assert.equal(closed(), 40);
    advance(t, 20);
    assert.equal(closed(), 50);
  });

  it('never writes what it held for a task whose subscription ended, and counts it as dropped', async () => {
    // Arrange: two tasks held back for the socket, both live updates.
    const { guard, counters, socket } = setUp(0);
    const updateOf = (taskId: string, seq: number) => {
      const run = new LiveUpdateRun(taskId, new Set());
      run.add(Buffer.from(`${taskId}:${seq}`), false, {});
      guard.sendRun(socket as unknown as WebSocket, run, run.wire());
    };
    updateOf('kept', 1);
    updateOf('left', 1);
    updateOf('left', 2);

    // Act
    guard.forgetTask(socket as unknown as WebSocket, 'left');
    socket.bufferedAmount = 0;
    await waitFor(() => guard.backloggedCount === 0, 'the flush');

    // Assert: the snapshot-like frame of setUp and 'kept' are written, nothing of 'left'.
    assert.deepEqual(socket.sends, ['{"n":1}', 'kept:1']);
    assert.equal(counters.framesDropped, 1);
    assert.equal(counters.framesCoalesced, 1);
    assert.equal(counters.framesDelivered, 1);
  });

  it('leaves a stalled socket to the heartbeat when the stall limit is 0', (t) => {
    mockClock(t);
    const { guard, socket } = setUp(0);
    advance(t, 300);
    assert.equal(socket.closedWith, undefined);
    assert.equal(guard.backloggedCount, 1);
  });

  it('sends 1013 past the bound and leaves the close handshake a grace before terminating', (t) => {
    // Arrange
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { guard, socket } = setUp(0, { slowClientCloseGraceMs: 1_000 });

    // Act: buffered plus held pass WS_SLOW_CLIENT_MAX_BYTES (2 MiB).
    socket.bufferedAmount = 2 * 1024 * 1024;
    guard.send(socket as unknown as WebSocket, 'u', Buffer.from('{"n":2}'), false);

    // Assert: the close frame is queued, and the socket is left open for the client to read it.
    assert.deepEqual(socket.closedWith, [CloseCode.TRY_AGAIN_LATER, 'Client too slow to keep up']);
    assert.equal(socket.terminated, false, 'not cut off with the close frame still unsent');
    t.mock.timers.tick(999);
    assert.equal(socket.terminated, false);
    t.mock.timers.tick(1);
    assert.equal(socket.terminated, true, 'a client that never answers is cut off after the grace');
  });

  it('does not terminate a socket whose close handshake completes within the grace', (t) => {
    // Arrange
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { guard, socket } = setUp(0, { slowClientCloseGraceMs: 1_000 });
    socket.bufferedAmount = 2 * 1024 * 1024;
    guard.send(socket as unknown as WebSocket, 'u', Buffer.from('{"n":2}'), false);

    // Act: the client read up to the close frame and answered it.
    socket.readyState = WebSocket.CLOSED;
    socket.emit('close', CloseCode.TRY_AGAIN_LATER, Buffer.alloc(0));
    t.mock.timers.tick(1_000);

    // Assert
    assert.equal(socket.terminated, false);
    assert.equal(socket.listenerCount('close'), 0);
  });

  /** Offers updates of one task to the socket as the live path does; returns how many. */
  function offer(guard: SlowConsumerGuard, socket: FakeSocket, taskId: string, seqs: number[]) {
    const run = new LiveUpdateRun(taskId, new Set());
    for (const seq of seqs) run.add(Buffer.from(`${taskId}:${seq}`), false, {});
    guard.sendRun(socket as unknown as WebSocket, run, run.wire());
    return seqs.length;
  }

  it('counts each update frame offered once: delivered when written, coalesced, or dropped on close', async () => {
    // Arrange
    const counters = new DeliveryCounters();
    const options = resolveDeliveryOptions();
    const guard = new SlowConsumerGuard(options, counters);
    guards.push(guard);
    const socket = new FakeSocket();
    let offered = 0;

    // Act: written at once; held and coalesced, then flushed once it drains; held, then closed.
    offered += offer(guard, socket, 'a', [1, 2]);
    socket.bufferedAmount = 512 * 1024;
    offered += offer(guard, socket, 'a', [3, 4, 5]);
    offered += offer(guard, socket, 'b', [1]);
    socket.bufferedAmount = 0;
    await waitFor(() => guard.backloggedCount === 0, 'the flush');
    socket.bufferedAmount = 512 * 1024;
    offered += offer(guard, socket, 'a', [6, 7]);
    offered += offer(guard, socket, 'c', [1]);
    socket.readyState = WebSocket.CLOSED;
    await waitFor(() => guard.backloggedCount === 0, 'the closed socket to be let go');

    // Assert
    assert.deepEqual(socket.sends, ['a:1', 'a:2', 'a:5', 'b:1']);
    assert.equal(counters.framesDelivered, 4, 'what was written');
    assert.equal(counters.framesCoalesced, 3, 'a:3, a:4 and a:6 replaced');
    assert.equal(counters.framesDropped, 2, 'a:7 and c:1, held when it closed');
    assert.equal(
      counters.framesDelivered + counters.framesCoalesced + counters.framesDropped,
      offered,
    );
  });

  it('counts the frames held for a socket closed as slow, or at shutdown, as dropped; snapshots have their own counter', () => {
    // Arrange: setUp held a snapshot of t for the socket; another socket has a snapshot and an
    // update held when the module shuts down.
    const { guard, counters, socket } = setUp(0);
    const other = new FakeSocket();
    other.bufferedAmount = 512 * 1024;
    guard.send(other as unknown as WebSocket, 's', Buffer.from('s:0'), false);
    offer(guard, other, 'o', [1]);

    // Act: the held snapshot of t is replaced by an update, u coalesced, then the bound is passed.
    offer(guard, socket, 't', [1]);
    offer(guard, socket, 'u', [1, 2]);
    socket.bufferedAmount = 2 * 1024 * 1024;
    offer(guard, socket, 'v', [1]);
    guard.onModuleDestroy();

    // Assert
    assert.deepEqual(socket.closedWith, [CloseCode.TRY_AGAIN_LATER, 'Client too slow to keep up']);
    assert.equal(counters.framesDelivered, 0);
    assert.equal(counters.framesCoalesced, 1, 'u:1; the replaced snapshot is not an update frame');
    assert.equal(counters.framesDropped, 4, 't:1, u:2 and v:1 at the close, o:1 at shutdown');
  });
});
