// CRC-32 (IEEE 802.3, reflected, as zlib, Node's zlib.crc32 and Python's zlib.crc32). Written out
// because the package builds without Node's or the DOM's types (its browser entries must not
// reach Node APIs), so neither zlib nor TextEncoder is at hand.

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function step(crc: number, byte: number): number {
  return TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
}

/**
 * CRC-32 of the UTF-8 bytes of `text`, as an unsigned 32-bit integer. (Task ids are ASCII; a lone
 * surrogate, which UTF-8 cannot encode, is hashed as its own 3-byte form.)
 */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i += 1) {
    const cp = text.codePointAt(i)!;
    if (cp < 0x80) {
      crc = step(crc, cp);
      continue;
    }
    if (cp < 0x800) {
      crc = step(crc, 0xc0 | (cp >> 6));
    } else if (cp < 0x10000) {
      crc = step(crc, 0xe0 | (cp >> 12));
      crc = step(crc, 0x80 | ((cp >> 6) & 0x3f));
    } else {
      i += 1; // the low surrogate of the pair
      crc = step(crc, 0xf0 | (cp >> 18));
      crc = step(crc, 0x80 | ((cp >> 12) & 0x3f));
      crc = step(crc, 0x80 | ((cp >> 6) & 0x3f));
    }
    crc = step(crc, 0x80 | (cp & 0x3f));
  }
  return (crc ^ 0xffffffff) >>> 0;
}
