import { CloseCode } from '@task-status/client/protocol';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { DeliveryCounters } from '../connections/delivery-counters.js';
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

async function waitFor(condition: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SlowConsumerGuard', () => {
  const guards: SlowConsumerGuard[] = [];
  afterEach(() => guards.splice(0).forEach((guard) => guard.onModuleDestroy()));

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

  it('closes a held-back socket that reads nothing for WS_SLOW_CLIENT_STALL_MS (1013)', async () => {
    const { guard, counters, socket } = setUp(100);
    assert.equal(guard.backloggedCount, 1);
    await waitFor(() => socket.closedWith !== undefined, 'the close');
    assert.deepEqual(socket.closedWith, [CloseCode.TRY_AGAIN_LATER, 'Client stopped reading']);
    assert.equal(socket.readyState, WebSocket.CLOSED);
    assert.equal(counters.slowConsumerCloses, 1);
    assert.equal(guard.backloggedCount, 0);
    assert.deepEqual(socket.sends, []);
  });

  it('keeps a socket that reads, however slowly, and flushes to it once it drains', async () => {
    const { guard, socket } = setUp(100);
    // A few KiB read every 20 ms: still above the threshold, but never stalled.
    const reading = setInterval(() => (socket.bufferedAmount -= 4096), 20);
    try {
      await delay(400);
      assert.equal(socket.closedWith, undefined);
      assert.equal(guard.backloggedCount, 1);
    } finally {
      clearInterval(reading);
    }
    socket.bufferedAmount = 0;
    await waitFor(() => socket.sends.length === 1, 'the held frame');
    assert.deepEqual(socket.sends, ['{"n":1}']);
    assert.equal(guard.backloggedCount, 0);
  });

  it('closes sockets that stalled together over several flushes, 20 at a time', async () => {
    const { guard, socket: first } = setUp(50);
    const sockets = [first];
    for (let index = 1; index < 50; index += 1) {
      const socket = new FakeSocket();
      socket.bufferedAmount = 512 * 1024;
      guard.send(socket as unknown as WebSocket, 't', Buffer.from('{"n":1}'), false);
      sockets.push(socket);
    }
    const closed = () => sockets.filter((socket) => socket.closedWith !== undefined).length;
    await waitFor(() => closed() > 0, 'the first closes');
    assert.ok(closed() <= 20, `${closed()} closed in the first flush`);
    await waitFor(() => closed() === 50, 'every close');
  });

  it('leaves a stalled socket to the heartbeat when the stall limit is 0', async () => {
    const { guard, socket } = setUp(0);
    await delay(300);
    assert.equal(socket.closedWith, undefined);
    assert.equal(guard.backloggedCount, 1);
  });
});
