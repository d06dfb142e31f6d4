import { Socket } from 'node:net';
import * as ws from 'ws';
import { WebSocket } from 'ws';

/**
 * The only place that reaches into ws beyond its documented API, for the hot path: ws' own frame
 * encoder (`Sender.frame`, exported at runtime but absent from @types/ws) and a socket's TCP
 * transport (`_socket`). checkWsInternals() proves both at boot, so a ws upgrade that changes
 * them stops the service with a clear error instead of breaking delivery.
 */

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}

type FrameEncoder = (data: Buffer, options: FrameOptions) => Buffer[];

/** ws' TCP socket (`_socket`) and its negotiated extensions by name (`_extensions`). */
type WebSocketWithInternals = WebSocket & {
  _socket?: unknown;
  _extensions?: Record<string, unknown>;
};

const { Sender } = ws as unknown as { Sender?: { frame?: FrameEncoder } };

const PERMESSAGE_DEFLATE = 'permessage-deflate';

const TEXT_FRAME: FrameOptions = { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false };

/**
 * One unmasked, uncompressed text frame, header and payload in one buffer: encoded once per
 * update and written as is to every subscriber, instead of ws framing it again for each socket.
 */
export function encodeTextFrame(payload: Buffer): Buffer {
  const [header, data] = (Sender!.frame as FrameEncoder)(payload, TEXT_FRAME);
  return Buffer.concat([header, data], header.length + data.length);
}

/**
 * The TCP socket to write pre-encoded frames to, or undefined when the socket must go through
 * ws' sender: with an extension (permessage-deflate) negotiated, ws compresses and may queue, so
 * bytes written beside it could overtake its own. Without one, ws writes each message
 * synchronously, so raw writes keep their order and `bufferedAmount` still counts them.
 */
export function rawTransportOf(socket: WebSocket): Socket | undefined {
  const internals = socket as WebSocketWithInternals;
  // Not the public `extensions`, which builds a string on every read.
  if (internals._extensions?.[PERMESSAGE_DEFLATE] !== undefined) return undefined;
  return internals._socket as Socket | undefined;
}

export class WsInternalsChangedError extends Error {
  constructor(detail: string) {
    super(
      `The installed ws (${detail}) no longer has the internals the delivery path writes through; ` +
        'pin ws to a version the gateway supports (see package.json) or update src/outbound/ws-internals.ts',
    );
    this.name = 'WsInternalsChangedError';
  }
}

/** Throws WsInternalsChangedError unless both internals behave as the hot path expects. */
export function checkWsInternals(): void {
  if (typeof Sender?.frame !== 'function')
    throw new WsInternalsChangedError('Sender.frame is missing');
  const frame = encodeTextFrame(Buffer.from('ok'));
  if (!frame.equals(Buffer.from([0x81, 0x02, 0x6f, 0x6b]))) {
    throw new WsInternalsChangedError('Sender.frame encodes differently');
  }
  // A server-side WebSocket, as ws' server builds one, on a socket that never connects.
  const transport = new Socket();
  const socket = new WebSocket(null as unknown as string, undefined, {}) as WebSocket & {
    setSocket(socket: Socket, head: Buffer, options: Record<string, unknown>): void;
  };
  try {
    if (typeof socket.setSocket !== 'function') {
      throw new WsInternalsChangedError('WebSocket#setSocket is missing');
    }
    socket.setSocket(transport, Buffer.alloc(0), { maxPayload: 0, skipUTF8Validation: false });
    if (rawTransportOf(socket) !== transport) {
      throw new WsInternalsChangedError('WebSocket#_socket is not the TCP socket');
    }
    const { _extensions: extensions } = socket as WebSocketWithInternals;
    if (typeof extensions !== 'object' || extensions === null) {
      throw new WsInternalsChangedError('WebSocket#_extensions is missing');
    }
  } finally {
    transport.destroy();
  }
}
