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
});
