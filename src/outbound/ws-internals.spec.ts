import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ws from 'ws';
import { checkWsInternals, encodeTextFrame, rawTransportOf } from './ws-internals.js';

interface FrameReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  write(chunk: Buffer): void;
}
const { Receiver } = ws as unknown as {
  Receiver: new (options: { isServer: boolean }) => FrameReceiver;
};

/** Decodes frames with ws' own parser, as a client would. */
function decode(wire: Buffer): string[] {
  const messages: string[] = [];
  const receiver = new Receiver({ isServer: false });
  receiver.on('message', (data: Buffer, isBinary: boolean) => {
    assert.equal(isBinary, false);
    messages.push(data.toString());
  });
  receiver.write(wire);
  return messages;
}

describe('encodeTextFrame', () => {
  it('encodes payloads of every length class (7-bit, 16-bit and 64-bit lengths)', () => {
    for (const length of [0, 1, 125, 126, 65_535, 65_536, 70_000]) {
      const payload = Buffer.from('x'.repeat(length));
      const wire = encodeTextFrame(payload);
      const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
      assert.equal(wire.length, headerLength + length, `length ${length}`);
      assert.deepEqual(decode(wire), [payload.toString()]);
    }
  });

  it('frames can be concatenated: one write carries several messages', () => {
    const wire = Buffer.concat([
      encodeTextFrame(Buffer.from('{"a":1}')),
      encodeTextFrame(Buffer.from('é')),
    ]);
    assert.deepEqual(decode(wire), ['{"a":1}', 'é']);
  });
});

describe('checkWsInternals', () => {
  it('passes with the installed ws', () => {
    assert.doesNotThrow(() => checkWsInternals());
  });
});

describe('rawTransportOf', () => {
  const transport = { write: () => true };

  it('gives the TCP socket of a socket without extensions', () => {
    const socket = { _extensions: {}, _socket: transport } as unknown as ws.WebSocket;
    assert.equal(rawTransportOf(socket), transport);
  });

  it('gives nothing once permessage-deflate was negotiated: ws must frame and compress', () => {
    const socket = {
      _extensions: { 'permessage-deflate': {} },
      _socket: transport,
    } as unknown as ws.WebSocket;
    assert.equal(rawTransportOf(socket), undefined);
  });
});
