import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frameEnd, INCOMPLETE, readMessagePush, UNKNOWN, type MessagePush } from './resp-frame.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('frameEnd', () => {
  it('finds the end of every RESP2 and RESP3 type it knows, nested ones included', () => {
    // Arrange
    const frames = [
      '+OK\r\n',
      '-ERR wrong\r\n',
      ':42\r\n',
      '_\r\n',
      ',3.14\r\n',
      '#t\r\n',
      '(123456789012345678901234567890\r\n',
      '$5\r\nhe\r\no\r\n',
      '$-1\r\n',
      '!3\r\nerr\r\n',
      '=8\r\ntxt:abcd\r\n',
      '*2\r\n$1\r\na\r\n:1\r\n',
      '*-1\r\n',
      '>3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n',
      '%1\r\n+key\r\n*1\r\n+value\r\n',
      '~2\r\n:1\r\n:2\r\n',
    ];

    // Act / Assert
    for (const frame of frames) {
      const buffer = bytes(`${frame}+next\r\n`);
      assert.equal(frameEnd(buffer, 0), frame.length, frame);
    }
  });

  it('says INCOMPLETE for every cut of a frame', () => {
    // Arrange
    const frame = '>3\r\n$7\r\nmessage\r\n$3\r\nchn\r\n$13\r\n{"task_id":1}\r\n';

    // Act / Assert
    for (let cut = 0; cut < frame.length; cut += 1) {
      assert.equal(frameEnd(bytes(frame.slice(0, cut)), 0), INCOMPLETE, `cut at ${cut}`);
    }
    assert.equal(frameEnd(bytes(frame), 0), frame.length);
  });

  it('says UNKNOWN for a type or header it cannot read', () => {
    assert.equal(frameEnd(bytes('|1\r\n+a\r\n+b\r\n'), 0), UNKNOWN);
    assert.equal(frameEnd(bytes('hello\r\n'), 0), UNKNOWN);
    assert.equal(frameEnd(bytes('$x\r\n'), 0), UNKNOWN);
  });
});

describe('readMessagePush', () => {
  const out: MessagePush = { payloadStart: 0, payloadEnd: 0, frameEnd: 0 };

  it('reads message and smessage pushes, as RESP2 arrays and RESP3 pushes', () => {
    for (const head of ['*3', '>3']) {
      for (const kind of ['message', 'smessage']) {
        // Arrange
        const prefix = `:1\r\n`;
        const frame = `${head}\r\n$${kind.length}\r\n${kind}\r\n$2\r\nch\r\n$4\r\nbody\r\n`;
        const buffer = bytes(prefix + frame + '+OK\r\n');

        // Act
        const read = readMessagePush(buffer, prefix.length, out);

        // Assert
        assert.equal(read, true);
        assert.equal(buffer.toString('latin1', out.payloadStart, out.payloadEnd), 'body');
        assert.equal(out.frameEnd, prefix.length + frame.length);
      }
    }
  });

  it('refuses other replies and pushes', () => {
    for (const other of [
      '*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n',
      '*4\r\n$8\r\npmessage\r\n$1\r\np\r\n$2\r\nch\r\n$1\r\nx\r\n',
      '*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n:1\r\n',
      '+OK\r\n',
    ]) {
      assert.equal(readMessagePush(bytes(other), 0, out), false, other);
      assert.equal(out.frameEnd, 0);
    }
  });

  it('tells how long an incomplete push is once its payload header was read', () => {
    // Arrange
    const frame = '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$10\r\n0123456789\r\n';
    const cut = frame.indexOf('0123');

    // Act
    const read = readMessagePush(bytes(frame.slice(0, cut + 3)), 0, out);

    // Assert
    assert.equal(read, false);
    assert.equal(out.frameEnd, frame.length);
  });
});
