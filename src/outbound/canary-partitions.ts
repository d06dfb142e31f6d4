import { slotOfPartition } from '../redis/cluster-slot.js';

/**
 * One partition per primary for the data-path canaries on a Redis Cluster: the lowest partition
 * whose slot each primary owns (stable while the slots stay, so a canary channel changes only
 * when its slot moves). `ownerOfSlot` gives a slot's primary (`host:port`), or undefined for a
 * slot nobody serves. A primary that owns no partition's slot carries no task and gets none.
 */
export function canaryPartitions(
  partitions: number,
  ownerOfSlot: (slot: number) => string | undefined,
): Map<string, number> {
  const chosen = new Map<string, number>();
  for (let partition = 0; partition < partitions; partition += 1) {
    const owner = ownerOfSlot(slotOfPartition(partition));
    if (owner !== undefined && !chosen.has(owner)) chosen.set(owner, partition);
  }
  return chosen;
}
