/** Slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16_384;

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit += 1) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    table[byte] = crc;
  }
  return table;
})();

/**
 * The cluster slot of a key or shard channel, as Redis computes it: CRC16 (XMODEM) of the hash
 * tag (the part between the first `{` and the next `}`, when not empty) or else of the whole
 * name, modulo 16,384. Here so that the gateway can tell which primary owns a partition without
 * asking Redis.
 */
export function clusterSlotOf(name: string): number {
  let bytes = Buffer.from(name);
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff];
  return crc % CLUSTER_SLOTS;
}

/** The slot of partition `p`'s keys and channels (their hash tag is `{p}`). */
export function slotOfPartition(partition: number): number {
  return clusterSlotOf(`{${partition}}`);
}
