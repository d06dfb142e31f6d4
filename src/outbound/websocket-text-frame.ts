import * as ws from 'ws';

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}

/** ws' own frame encoder (exported at runtime, absent from @types/ws). */
const { Sender } = ws as unknown as {
  Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] };
};

const TEXT_FRAME: FrameOptions = { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false };

/**
 * One unmasked, uncompressed text frame, header and payload in one buffer: encoded once per
 * update and written as is to every subscriber, instead of ws framing it again for each socket.
 */
export function encodeTextFrame(payload: Buffer): Buffer {
  const [header, data] = Sender.frame(payload, TEXT_FRAME);
  return Buffer.concat([header, data], header.length + data.length);
}
