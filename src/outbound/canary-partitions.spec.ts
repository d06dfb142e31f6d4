import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { slotOfPartition } from '../redis/cluster-slot.js';
import { canaryPartitions } from './canary-partitions.js';

/** Three primaries with the even split a fresh cluster gets. */
function evenSplit(slot: number): string {
  if (slot <= 5460) return '127.0.0.1:7001';
  return slot <= 10922 ? '127.0.0.1:7002' : '127.0.0.1:7003';
}

describe('canaryPartitions', () => {
  it('picks, for every primary, the lowest partition whose slot it owns', () => {
    // Act
    const chosen = canaryPartitions(1024, evenSplit);

    // Assert
    assert.deepEqual([...chosen.keys()].sort(), [
      '127.0.0.1:7001',
      '127.0.0.1:7002',
      '127.0.0.1:7003',
    ]);
    for (const [node, partition] of chosen) {
      assert.equal(evenSplit(slotOfPartition(partition)), node);
      for (let lower = 0; lower < partition; lower += 1) {
        assert.notEqual(evenSplit(slotOfPartition(lower)), node, `${lower} < ${partition}`);
      }
    }
  });

  it('follows a slot that moved to a primary of its own', () => {
    // Arrange: partition 0's slot alone moves to a fourth primary.
    const moved = slotOfPartition(0);
    const owner = (slot: number) => (slot === moved ? '127.0.0.1:7004' : evenSplit(slot));

    // Act
    const chosen = canaryPartitions(1024, owner);

    // Assert
    assert.equal(chosen.get('127.0.0.1:7004'), 0);
    assert.equal(chosen.size, 4);
    assert.notEqual(chosen.get(evenSplit(moved)), 0);
  });

  it('leaves out slots nobody serves and primaries without a partition', () => {
    // Arrange: one partition only, on the first primary; the rest unserved.
    const slot = slotOfPartition(0);
    const owner = (s: number) => (s === slot ? '127.0.0.1:7001' : undefined);

    // Act
    const chosen = canaryPartitions(1, owner);

    // Assert
    assert.deepEqual([...chosen], [['127.0.0.1:7001', 0]]);
  });
});
