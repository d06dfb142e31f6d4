/**
 * Frame boundaries in a RESP2/RESP3 byte stream, found without decoding the values, so that a
 * reader can cut a chunk read from Redis into whole replies. Pure functions over a Buffer.
 */

/** The frame is not complete in the bytes given. */
export const INCOMPLETE = -1;
/** The bytes hold a type this scanner does not know (attributes, garbage): only a decoder can tell. */
export const UNKNOWN = -2;

const CR = 0x0d;

/** The offset just past the CRLF that ends the line starting at `pos`, or INCOMPLETE. */
function lineEnd(bytes: Buffer, pos: number): number {
  const cr = bytes.indexOf(CR, pos);
  if (cr === -1 || cr + 1 >= bytes.length) return INCOMPLETE;
  return cr + 2;
}

/** The signed decimal between `pos` and the CR at `end - 2`; NaN if it is not one. */
function lengthAt(bytes: Buffer, pos: number, end: number): number {
  let index = pos;
  let sign = 1;
  if (bytes[index] === 0x2d) {
    sign = -1;
    index += 1;
  }
  if (index >= end - 2) return Number.NaN;
  let value = 0;
  for (; index < end - 2; index += 1) {
    const digit = bytes[index] - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return sign * value;
}

/**
 * The offset just past the whole RESP value that starts at `pos` (nested ones included),
 * INCOMPLETE when more bytes are needed, UNKNOWN for a type or header it cannot read.
 */
export function frameEnd(bytes: Buffer, pos: number): number {
  if (pos >= bytes.length) return INCOMPLETE;
  const type = bytes[pos];
  const headerEnd = lineEnd(bytes, pos + 1);
  if (headerEnd === INCOMPLETE) return INCOMPLETE;
  switch (type) {
    case 0x2b: // + simple string
    case 0x2d: // - simple error
    case 0x3a: // : integer
    case 0x5f: // _ null
    case 0x2c: // , double
    case 0x23: // # boolean
    case 0x28: // ( big number
      return headerEnd;
    case 0x24: // $ blob string
    case 0x21: // ! blob error
    case 0x3d: {
      // = verbatim string
      const length = lengthAt(bytes, pos + 1, headerEnd);
      if (Number.isNaN(length)) return UNKNOWN;
      if (length < 0) return headerEnd;
      const end = headerEnd + length + 2;
      return end <= bytes.length ? end : INCOMPLETE;
    }
    case 0x2a: // * array
    case 0x7e: // ~ set
    case 0x3e: // > push
    case 0x25: {
      // % map: two values per entry
      const count = lengthAt(bytes, pos + 1, headerEnd);
      if (Number.isNaN(count)) return UNKNOWN;
      let end = headerEnd;
      const items = type === 0x25 ? count * 2 : count;
      for (let item = 0; item < items; item += 1) {
        end = frameEnd(bytes, end);
        if (end < 0) return end;
      }
      return end;
    }
    default:
      return UNKNOWN;
  }
}

/** Where a pub/sub message's payload lies in the bytes: `[start, end)`, and the frame's end. */
export interface MessagePush {
  payloadStart: number;
  payloadEnd: number;
  frameEnd: number;
}

// `message` (SUBSCRIBE) and `smessage` (SSUBSCRIBE) pushes, as RESP2 arrays or RESP3 pushes.
const MESSAGE_HEADS = ['*3', '>3'].flatMap((head) =>
  ['$7\r\nmessage', '$8\r\nsmessage'].map((kind) => Buffer.from(`${head}\r\n${kind}\r\n`)),
);

function startsWithAt(bytes: Buffer, pos: number, prefix: Buffer): boolean {
  if (pos + prefix.length > bytes.length) return false;
  for (let index = 0; index < prefix.length; index += 1) {
    if (bytes[pos + index] !== prefix[index]) return false;
  }
  return true;
}

/**
 * Reads a `message`/`smessage` push starting at `pos` (its channel skipped). True when the
 * whole push is there: `out` holds the payload's place and the frame's end. False for anything
 * else; then `out.frameEnd` holds the push's end when the bytes are a push whose payload header
 * was read but whose payload is not complete yet, else 0.
 */
export function readMessagePush(bytes: Buffer, pos: number, out: MessagePush): boolean {
  out.frameEnd = 0;
  const first = bytes[pos];
  if (first !== 0x2a && first !== 0x3e) return false;
  let head: Buffer | undefined;
  for (const candidate of MESSAGE_HEADS) {
    if (startsWithAt(bytes, pos, candidate)) {
      head = candidate;
      break;
    }
  }
  if (head === undefined || bytes[pos + head.length] !== 0x24) return false;
  const channelEnd = frameEnd(bytes, pos + head.length);
  if (channelEnd < 0 || bytes[channelEnd] !== 0x24) return false;
  const headerEnd = lineEnd(bytes, channelEnd + 1);
  if (headerEnd === INCOMPLETE) return false;
  const length = lengthAt(bytes, channelEnd + 1, headerEnd);
  if (!(length >= 0)) return false;
  const end = headerEnd + length + 2;
  out.frameEnd = end;
  if (end > bytes.length) return false;
  out.payloadStart = headerEnd;
  out.payloadEnd = headerEnd + length;
  return true;
}
