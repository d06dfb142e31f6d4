import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ws from 'ws';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DeliveryCounters } from '../connections/delivery-counters.js';
import { resolveDeliveryOptions } from './delivery-options.js';
import { SlowConsumerGuard } from './slow-consumer-guard.js';
import { resolveTaskStateOptions } from './task-state-options.js';
import type { DataPathCanary } from './data-path-canary.js';
import { GroupTaskIndex } from './group-task-index.js';
import { LiveUpdateRelay } from './live-update-relay.js';
import { TaskStateTracker } from './task-state-tracker.js';
import { EventStreamSubscriber, type TaskSubscriber } from './event-stream-subscriber.js';

interface FrameReceiver {
  on(event: 'message', listener: (data: Buffer) => void): void;
  write(chunk: Buffer): void;
}
const { Receiver, WebSocket } = ws as unknown as {
  Receiver: new (options: { isServer: boolean }) => FrameReceiver;
  WebSocket: typeof ws.WebSocket;
};

/** A socket that records each raw write (decoded into its messages) and each framed send. */
class RecordingSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  /** The negotiated extensions (ws' `_extensions`): none, so frames go straight to the TCP socket. */
  _extensions: Record<string, unknown> = {};
  readonly writes: string[][] = [];
  readonly sends: string[] = [];
  readonly _socket = {
    write: (wire: Buffer): boolean => {
      const messages: string[] = [];
      const receiver = new Receiver({ isServer: false });
      receiver.on('message', (data) => messages.push(data.toString()));
      receiver.write(wire);
      this.writes.push(messages);
      return true;
    },
  };

  send(data: Buffer): void {
    this.sends.push(data.toString());
  }

  seqs(): unknown[][] {
    return this.writes.map((messages) =>
      messages.map((m) => {
        const parsed = JSON.parse(m) as { task_id: string; data: { seq: number } };
        return `${parsed.task_id}:${parsed.data.seq}`;
      }),
    );
  }
}

/** An event stream that records what it is sent. */
class RecordingStream extends EventStreamSubscriber {
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: Buffer[] = [];
  send(data: Buffer): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
  terminate(): void {
    this.readyState = 3;
  }
}

function setUp() {
  const counters = new DeliveryCounters();
  const guard = new SlowConsumerGuard(resolveDeliveryOptions(), counters);
  const tracker = new TaskStateTracker(new Set(resolveTaskStateOptions().terminalStatuses));
  const registry = new ConnectionRegistry<ws.WebSocket>();
  const delivery = new LiveUpdateRelay(
    registry,
    counters,
    tracker,
    guard,
    {} as DataPathCanary,
    new GroupTaskIndex(),
  );
  return { delivery, counters, guard, registry };
}

const update = (taskId: string, seq: number, status = 'processing') => ({
  taskId,
  data: { status, seq },
});
const asSockets = (...sockets: RecordingSocket[]) =>
  new Set(sockets) as unknown as Set<ws.WebSocket>;
const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Polls (the guard flushes held frames on a 20 ms timer), failing after 2 s. */
async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('LiveUpdateRelay', () => {
  it('writes consecutive updates of one task in one write per subscriber, at the end of the turn', async () => {
    const { delivery, counters } = setUp();
    const [a, b] = [new RecordingSocket(), new RecordingSocket()];
    const watchers = asSockets(a, b);

    for (const seq of [1, 2, 3]) assert.equal(delivery.deliverLive(update('t', seq), watchers), 2);
    assert.deepEqual(a.writes, [], 'nothing is written before the turn ends');
    await endOfTurn();

    for (const socket of [a, b]) assert.deepEqual(socket.seqs(), [['t:1', 't:2', 't:3']]);
    assert.equal(counters.framesDelivered, 6);
  });

  it('drops the live copy of a state a resync delivered just before, and nothing else', async () => {
    // Arrange
    const { delivery, counters } = setUp();
    const socket = new RecordingSocket();
    const watchers = asSockets(socket);

    // Act: the resync read seq 2 from its key before the message of seq 2 came.
    delivery.deliverLive(update('t', 1), watchers);
    delivery.deliverLive(update('t', 2), watchers, true);
    const echo = delivery.deliverLive(update('t', 2), watchers);
    delivery.deliverLive(update('t', 3), watchers);
    const republished = delivery.deliverLive(update('t', 3), watchers);
    await endOfTurn();

    // Assert
    assert.equal(echo, 0);
    assert.equal(republished, 1, 'a state published twice live is not a resync echo');
    assert.deepEqual(socket.seqs(), [['t:1', 't:2', 't:3', 't:3']]);
    assert.equal(counters.superseded.stale, 1);
  });

  it('keeps the channel order across tasks for a client watching several', async () => {
    const { delivery } = setUp();
    const both = new RecordingSocket();
    const onlyX = new RecordingSocket();
    const xWatchers = asSockets(both, onlyX);
    const yWatchers = asSockets(both);

    delivery.deliverLive(update('x', 1), xWatchers);
    delivery.deliverLive(update('x', 2), xWatchers);
    delivery.deliverLive(update('y', 1), yWatchers);
    delivery.deliverLive(update('x', 3), xWatchers);
    await endOfTurn();

    assert.deepEqual(both.seqs(), [['x:1', 'x:2'], ['y:1'], ['x:3']]);
    assert.deepEqual(onlyX.seqs(), [['x:1', 'x:2'], ['x:3']]);
  });

  it('caps a run at 64 KiB: a longer burst is several writes, all in order', async () => {
    const { delivery } = setUp();
    const socket = new RecordingSocket();
    const watchers = asSockets(socket);
    const filler = 'p'.repeat(1000);

    for (let seq = 0; seq < 200; seq += 1) {
      delivery.deliverLive({ taskId: 't', data: { seq, filler } }, watchers);
    }
    await endOfTurn();

    assert.ok(socket.writes.length >= 3, `${socket.writes.length} writes`);
    for (const messages of socket.writes) {
      const bytes = messages.reduce((sum, m) => sum + m.length, 0);
      assert.ok(bytes <= 64 * 1024 + 1100, `a write of ${bytes} bytes`);
    }
    assert.deepEqual(
      socket.seqs().flat(),
      Array.from({ length: 200 }, (_, seq) => `t:${seq}`),
    );
  });

  it('skips sockets that are no longer open', async () => {
    const { delivery, counters } = setUp();
    const [open, closing] = [new RecordingSocket(), new RecordingSocket()];
    closing.readyState = WebSocket.CLOSING;

    delivery.deliverLive(update('t', 1), asSockets(open, closing));
    await endOfTurn();

    assert.equal(open.writes.length, 1);
    assert.deepEqual(closing.writes, []);
    assert.equal(counters.framesDelivered, 1);
  });

  it('sends each update through ws (framed per socket) when permessage-deflate was negotiated', async () => {
    const { delivery } = setUp();
    const socket = new RecordingSocket();
    socket._extensions = { 'permessage-deflate': {} };
    const watchers = asSockets(socket);

    delivery.deliverLive(update('t', 1), watchers);
    delivery.deliverLive(update('t', 2), watchers);
    await endOfTurn();

    assert.deepEqual(socket.writes, []);
    assert.deepEqual(
      socket.sends.map((m) => (JSON.parse(m) as { data: { seq: number } }).data.seq),
      [1, 2],
    );
  });

  it('holds a run back for a socket that is not draining: only the newest state per task (terminal ones all kept), flushed once it drains', async (t) => {
    const { delivery, counters, guard } = setUp();
    const slow = new RecordingSocket();
    const reader = new RecordingSocket();
    slow.bufferedAmount = 1024 * 1024;
    const watchers = asSockets(slow, reader);
    t.after(() => guard.onModuleDestroy());

    for (const seq of [1, 2, 3]) delivery.deliverLive(update('t', seq), watchers);
    delivery.deliverLive(update('t', 4, 'completed'), watchers);
    // A terminal state is never replaced, not even by a later terminal one.
    delivery.deliverLive(update('t', 5, 'failed'), watchers);
    delivery.deliverLive(update('u', 1), asSockets(slow));
    await endOfTurn();

    assert.deepEqual(
      reader.seqs(),
      [['t:1', 't:2', 't:3', 't:4', 't:5']],
      'the reader is not held up',
    );
    assert.deepEqual(slow.writes, []);
    assert.equal(counters.slowConsumers, 1);
    assert.equal(counters.framesCoalesced, 3, 'each newer state of t replaced the held one');
    assert.equal(counters.framesDelivered, 5, 'only what was written: five to the reader');

    slow.bufferedAmount = 0;
    await waitFor(() => slow.sends.length === 3);
    assert.deepEqual(
      slow.sends.map((m) => {
        const parsed = JSON.parse(m) as { task_id: string; data: { seq: number } };
        return `${parsed.task_id}:${parsed.data.seq}`;
      }),
      ['t:4', 't:5', 'u:1'],
    );
    // 5 frames offered to the reader and 6 to the slow socket, each counted once.
    assert.deepEqual(
      {
        delivered: counters.framesDelivered,
        coalesced: counters.framesCoalesced,
        dropped: counters.framesDropped,
      },
      { delivered: 5 + 3, coalesced: 3, dropped: 0 },
    );
  });

  it('counts the frames held for a socket that closes as dropped, not delivered', async (t) => {
    const { delivery, counters, guard } = setUp();
    const slow = new RecordingSocket();
    slow.bufferedAmount = 1024 * 1024;
    t.after(() => guard.onModuleDestroy());

    for (const seq of [1, 2]) delivery.deliverLive(update('t', seq), asSockets(slow));
    delivery.deliverLive(update('u', 1), asSockets(slow));
    await endOfTurn();
    slow.readyState = WebSocket.CLOSED;
    await waitFor(() => guard.backloggedCount === 0);

    assert.deepEqual(slow.sends, []);
    assert.equal(counters.framesDelivered, 0);
    assert.equal(counters.framesCoalesced, 1);
    assert.equal(counters.framesDropped, 2, 't:2 and u:1 were held when it closed');
  });

  it("drops and counts a shard channel's message of another task, peeked or parsed", async () => {
    // Arrange: one socket watches both tasks, so a misrouted update would reach it.
    const { delivery, counters, registry } = setUp();
    const socket = new RecordingSocket();
    registry.subscribe(socket as unknown as ws.WebSocket, 'a');
    registry.subscribe(socket as unknown as ws.WebSocket, 'b');
    const canonical = Buffer.from('{"task_id":"b","status":"processing","seq":1}');
    const reordered = Buffer.from('{"status":"processing","seq":2,"task_id":"b"}');

    // Act
    delivery.relay(canonical, 'task', 'a');
    delivery.relay(reordered, 'task', 'a');
    delivery.relay(Buffer.from('{"task_id":"b","status":"processing","seq":3}'), 'task', 'b');
    delivery.relay(Buffer.from('{"task_id":"b","status":"processing","seq":4}'));
    await endOfTurn();

    // Assert
    assert.equal(counters.dropped.wrong_channel, 2);
    assert.equal(counters.messagesReceived, 4);
    assert.equal(counters.updatesRouted, 2);
    assert.deepEqual(socket.seqs(), [['b:3', 'b:4']]);
  });

  it('flushLive writes the pending run at once', () => {
    const { delivery } = setUp();
    const socket = new RecordingSocket();

    delivery.deliverLive(update('t', 1), asSockets(socket));
    delivery.flushLive();

    assert.deepEqual(socket.seqs(), [['t:1']]);
  });

  it('writes a run to event streams as event text built once, beside the frames of sockets', async () => {
    const { delivery, counters } = setUp();
    const socket = new RecordingSocket();
    const [first, second] = [new RecordingStream(), new RecordingStream()];
    const watchers = new Set<TaskSubscriber>([socket as unknown as ws.WebSocket, first, second]);

    delivery.deliverLive({ taskId: 'org:1', data: { status: 'running', version: 4 } }, watchers);
    delivery.deliverLive({ taskId: 'org:1', data: { status: 'done', version: 5 } }, watchers);
    await endOfTurn();

    assert.equal(first.sent.length, 1, 'one write per stream');
    assert.equal(first.sent[0], second.sent[0], 'the same buffer for every stream');
    assert.equal(
      first.sent[0].toString(),
      'event: status_update\nid: org:1:v4\ndata: {"type":"status_update","task_id":"org:1","data":{"status":"running","version":4}}\n\n' +
        'event: status_update\nid: org:1:v5\ndata: {"type":"status_update","task_id":"org:1","data":{"status":"done","version":5}}\n\n',
    );
    assert.deepEqual(socket.writes, [
      [
        '{"type":"status_update","task_id":"org:1","data":{"status":"running","version":4}}',
        '{"type":"status_update","task_id":"org:1","data":{"status":"done","version":5}}',
      ],
    ]);
    assert.equal(counters.framesDelivered, 6);
    assert.equal(counters.eventStreamFramesDelivered, 4);
  });
});

describe('LiveUpdateRelay.dropUnwatched', () => {
  const inChunk = (payload: string) => {
    const bytes = Buffer.from(`$99\r\n${payload}\r\n`);
    return [bytes, 5, 5 + Buffer.byteLength(payload)] as const;
  };

  it('drops and counts an update of an unwatched task, and leaves the others to relay()', () => {
    // Arrange
    const { delivery, counters, registry } = setUp();
    const socket = new RecordingSocket() as unknown as ws.WebSocket;
    registry.addConnection(socket);
    registry.subscribe(socket, 'watched');

    // Act
    const dropped = delivery.dropUnwatched(...inChunk('{"task_id":"other","seq":1}'));
    const watched = delivery.dropUnwatched(...inChunk('{"task_id":"watched","seq":1}'));
    const canary = delivery.dropUnwatched(...inChunk('{"task_id":"__canary__:x","seq":1}'));
    const unreadable = delivery.dropUnwatched(...inChunk('{"seq":1,"task_id":"other"}'));

    // Assert
    assert.deepEqual([dropped, watched, canary, unreadable], [true, false, false, false]);
    assert.equal(counters.messagesReceived, 1);
    assert.equal(counters.updatesUnrouted, 1);
  });

  it('leaves every update to relay() while a group is watched here', () => {
    // Arrange
    const { delivery, counters, registry } = setUp();
    const socket = new RecordingSocket() as unknown as ws.WebSocket;
    registry.addConnection(socket);
    registry.subscribeGroup(socket, 'g');

    // Act
    const dropped = delivery.dropUnwatched(...inChunk('{"task_id":"other","seq":1}'));

    // Assert
    assert.equal(dropped, false);
    assert.equal(counters.messagesReceived, 0);
  });
});
