import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { SubscriberPushReader } from './subscriber-push-reader.js';

const push = (payload: string, kind = 'message', head = '>3'): string =>
  `${head}\r\n$${kind.length}\r\n${kind}\r\n$7\r\nupdates\r\n$${Buffer.byteLength(payload)}\r\n${payload}\r\n`;

/** A connection whose socket has one 'data' listener, as ioredis' decoder has after 'connect'. */
function fakeConnection(decoded: Buffer[]): { connection: Redis; socket: EventEmitter } {
  const socket = new EventEmitter();
  // ioredis sets the socket and its decoder's listener up before it emits 'connect'.
  const connection = Object.assign(new EventEmitter(), { stream: socket });
  socket.on('data', (chunk: Buffer) => decoded.push(Buffer.from(chunk)));
  return { connection: connection as unknown as Redis, socket };
}

function attach(drop: (payload: string) => boolean): {
  decoded: Buffer[];
  socket: EventEmitter;
  unattached: number[];
} {
  const decoded: Buffer[] = [];
  const unattached: number[] = [];
  const { connection, socket } = fakeConnection(decoded);
  SubscriberPushReader.attach(
    connection,
    (bytes, start, end) => drop(bytes.toString('utf8', start, end)),
    () => unattached.push(1),
  );
  (connection as unknown as EventEmitter).emit('connect');
  return { decoded, socket, unattached };
}

describe('SubscriberPushReader', () => {
  it('hands everything but the dropped pushes to the decoder, in order', () => {
    // Arrange
    const { decoded, socket } = attach((payload) => payload.startsWith('drop'));
    const stream =
      '+OK\r\n' +
      push('keep-1') +
      push('drop-1') +
      push('drop-2', 'smessage', '*3') +
      ':5\r\n' +
      push('keep-2', 'smessage') +
      push('drop-3');

    // Act
    socket.emit('data', Buffer.from(stream));

    // Assert
    assert.equal(
      Buffer.concat(decoded).toString(),
      '+OK\r\n' + push('keep-1') + ':5\r\n' + push('keep-2', 'smessage'),
    );
  });

  it('keeps an incomplete frame until its end arrives, whatever the cut', () => {
    // Arrange
    const stream =
      push('drop-1') + push('keep-1') + '*2\r\n$4\r\nPONG\r\n$0\r\n\r\n' + push('drop-2');
    const kept = push('keep-1') + '*2\r\n$4\r\nPONG\r\n$0\r\n\r\n';
    for (let cut = 1; cut < stream.length; cut += 1) {
      const { decoded, socket } = attach((payload) => payload.startsWith('drop'));

      // Act
      socket.emit('data', Buffer.from(stream.slice(0, cut)));
      socket.emit('data', Buffer.from(stream.slice(cut)));

      // Assert
      assert.equal(Buffer.concat(decoded).toString(), kept, `cut at ${cut}`);
    }
  });

  it('waits for a long payload whole instead of scanning each chunk', () => {
    // Arrange
    const payload = `drop-${'x'.repeat(200_000)}`;
    const seen: number[] = [];
    const { decoded, socket } = attach((text) => {
      seen.push(text.length);
      return text.startsWith('drop');
    });
    const bytes = Buffer.from(push(payload) + '+OK\r\n');

    // Act
    for (let at = 0; at < bytes.length; at += 1000)
      socket.emit('data', bytes.subarray(at, at + 1000));

    // Assert
    assert.deepEqual(seen, [payload.length]);
    assert.equal(Buffer.concat(decoded).toString(), '+OK\r\n');
  });

  it('leaves the rest of the socket to the decoder after bytes it cannot frame', () => {
    // Arrange
    const { decoded, socket } = attach(() => true);

    // Act
    socket.emit('data', Buffer.from(push('a') + '|1\r\n+x\r\n+y\r\n' + push('b')));
    socket.emit('data', Buffer.from(push('c')));

    // Assert
    assert.equal(Buffer.concat(decoded).toString(), '|1\r\n+x\r\n+y\r\n' + push('b') + push('c'));
  });

  it('stays out of the way when the socket has other data listeners', () => {
    // Arrange
    const decoded: Buffer[] = [];
    const unattached: number[] = [];
    const { connection, socket } = fakeConnection(decoded);
    socket.on('data', () => undefined);
    SubscriberPushReader.attach(
      connection,
      () => true,
      () => unattached.push(1),
    );

    // Act
    (connection as unknown as EventEmitter).emit('connect');
    socket.emit('data', Buffer.from(push('drop')));

    // Assert
    assert.deepEqual(unattached, [1]);
    assert.equal(Buffer.concat(decoded).toString(), push('drop'));
  });

  describe('reading a reused buffer', () => {
    /** Feeds each chunk through one buffer that is scribbled over after every read, as onread reuses it. */
    function readThroughOneBuffer(drop: (payload: string) => boolean, size = 64 * 1024) {
      const socket = new EventEmitter();
      // Kept as given: a chunk that still points into the reused buffer shows up scribbled.
      const decoded: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => decoded.push(chunk));
      const reader = SubscriberPushReader.reading(socket, (bytes, start, end) =>
        drop(bytes.toString('utf8', start, end)),
      );
      const buffer = Buffer.alloc(size);
      const read = (bytes: Buffer): void => {
        for (let at = 0; at < bytes.length; at += size) {
          const length = bytes.copy(buffer, 0, at, at + size);
          reader.read(buffer.subarray(0, length));
          buffer.fill('#');
        }
      };
      return { decoded, read, socket };
    }

    it('emits many pushes and replies of one read as copies, without the dropped ones', () => {
      // Arrange
      const { decoded, read } = readThroughOneBuffer((payload) => payload.startsWith('drop'));
      const pushes = Array.from({ length: 25 }, (_, index) => push(`drop-${index}`)).join('');

      // Act
      read(Buffer.from('+OK\r\n' + pushes + push('keep-1') + pushes + ':1\r\n' + pushes));

      // Assert
      assert.equal(Buffer.concat(decoded).toString(), '+OK\r\n' + push('keep-1') + ':1\r\n');
    });

    it('keeps a frame split across reads, whatever the cut', () => {
      // Arrange
      const stream = push('drop-1') + push('keep-1') + '*2\r\n$4\r\nPONG\r\n$0\r\n\r\n';
      const kept = push('keep-1') + '*2\r\n$4\r\nPONG\r\n$0\r\n\r\n';
      for (let cut = 1; cut < stream.length; cut += 1) {
        const { decoded, read } = readThroughOneBuffer((payload) => payload.startsWith('drop'));

        // Act
        read(Buffer.from(stream.slice(0, cut)));
        read(Buffer.from(stream.slice(cut)));

        // Assert
        assert.equal(Buffer.concat(decoded).toString(), kept, `cut at ${cut}`);
      }
    });

    it('passes on a push larger than the buffer whole, and drops one as large', () => {
      // Arrange
      const { decoded, read } = readThroughOneBuffer((payload) => payload.startsWith('drop'), 1024);
      const large = (kind: string): string => push(`${kind}-${'x'.repeat(5000)}`);

      // Act
      read(Buffer.from(large('drop') + large('keep') + '+OK\r\n' + large('drop')));

      // Assert
      assert.equal(Buffer.concat(decoded).toString(), large('keep') + '+OK\r\n');
      // Whole: the decoder got the large push in one chunk, not a piece per read.
      assert.ok(decoded[0].toString().startsWith(large('keep')));
    });

    it('passes on copies after bytes it cannot frame', () => {
      // Arrange
      const { decoded, read } = readThroughOneBuffer(() => true);

      // Act
      read(Buffer.from(push('a') + '|1\r\n+x\r\n+y\r\n'));
      read(Buffer.from(push('b')));

      // Assert
      assert.equal(Buffer.concat(decoded).toString(), '|1\r\n+x\r\n+y\r\n' + push('b'));
    });

    it('is not attached a second time on the socket it reads', () => {
      // Arrange
      const decoded: Buffer[] = [];
      const unattached: number[] = [];
      const { connection, socket } = fakeConnection(decoded);
      SubscriberPushReader.reading(socket, () => true);
      SubscriberPushReader.attach(
        connection,
        () => true,
        () => unattached.push(1),
      );

      // Act
      (connection as unknown as EventEmitter).emit('connect');
      socket.emit('data', Buffer.from(push('drop')));

      // Assert: ioredis' listener still gets what the socket emits, and nothing was reported.
      assert.deepEqual(unattached, []);
      assert.equal(socket.listenerCount('data'), 1);
      assert.equal(Buffer.concat(decoded).toString(), push('drop'));
    });
  });
});
