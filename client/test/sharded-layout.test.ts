import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { partitionOf, shardChannelOf, shardKeyOf } from '../src/sharded-layout.js';

describe('the sharded layout', () => {
  it('partitions by CRC-32 (IEEE) of the task id, as zlib and Python compute it', () => {
    // The standard check value of CRC-32, and values Python's zlib.crc32 gives.
    assert.equal(partitionOf('123456789', 2 ** 32 - 1), 0xcbf43926);
    assert.equal(partitionOf('task-1', 2 ** 32 - 1), 0xc9dfc1ef);
    assert.equal(partitionOf('task-1'), 0xc9dfc1ef % 1024);
    assert.equal(partitionOf('task-1', 16), 0xc9dfc1ef % 16);
  });

  it('stays within [0, partitions)', () => {
    for (let i = 0; i < 1_000; i += 1) {
      const p = partitionOf(`t-${i}`, 7);
      assert.ok(Number.isInteger(p) && p >= 0 && p < 7);
    }
  });

  it('names the shard channel and the key with the same hash tag', () => {
    const p = 0xc9dfc1ef % 1024;
    assert.equal(
      shardChannelOf('task_status_updates', 'task-1'),
      `task_status_updates:{${p}}:task-1`,
    );
    assert.equal(shardKeyOf('task:status:', 'task-1'), `task:status:{${p}}:task-1`);
    assert.equal(shardChannelOf('c', 'task-1', 1), 'c:{0}:task-1');
  });
});
