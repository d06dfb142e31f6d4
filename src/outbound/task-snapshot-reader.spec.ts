import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { partitionOf, shardKeyOf } from '@task-status/client/sharded-layout';
import type { RedisCommandClient } from '../redis/redis-command-client.js';
import { resolveRedisOptions } from '../redis/redis-options.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';
import { TaskSnapshotReader } from './task-snapshot-reader.js';
import { resolveTaskStateOptions } from './task-state-options.js';

const PARTITIONS = 8;
const PREFIX = 'task:status:';

/** A command client whose MGET answers from `stored` and records the keys of every call. */
function build(isCluster: boolean, stored: Map<string, string>) {
  const calls: string[][] = [];
  const redis = {
    isCluster,
    connection: {
      mget: (keys: string[]) => {
        calls.push(keys);
        return Promise.resolve(keys.map((key) => stored.get(key) ?? null));
      },
    },
  } as unknown as RedisCommandClient;
  const layout = new TaskChannelLayout(
    resolveRedisOptions({ pubsubMode: 'sharded', partitions: PARTITIONS }),
  );
  const reader = new TaskSnapshotReader(resolveTaskStateOptions({}), redis, layout);
  return { reader, calls };
}

describe('TaskSnapshotReader.readMany', () => {
  const taskIds = Array.from({ length: 40 }, (_, i) => `task-${i}`);
  // Every third task has no stored state.
  const stored = new Map(
    taskIds
      .filter((_, i) => i % 3 !== 0)
      .map((id) => [shardKeyOf(PREFIX, id, PARTITIONS), `state of ${id}`]),
  );
  const expected = taskIds.map((id, i) => (i % 3 === 0 ? null : `state of ${id}`));

  it('sends one MGET on a single Redis, whatever the partitions', async () => {
    // Arrange
    const { reader, calls } = build(false, stored);

    // Act
    const states = await reader.readMany(taskIds);

    // Assert
    assert.deepEqual(states, expected);
    assert.equal(calls.length, 1);
  });

  it('sends one MGET per partition on a Redis Cluster and answers in the order asked', async () => {
    // Arrange
    const { reader, calls } = build(true, stored);

    // Act
    const states = await reader.readMany(taskIds);

    // Assert
    assert.deepEqual(states, expected);
    const partitions = new Set(taskIds.map((id) => partitionOf(id, PARTITIONS)));
    assert.equal(calls.length, partitions.size);
    for (const keys of calls) {
      // One hash tag per command: one slot.
      assert.equal(new Set(keys.map((key) => /\{(\d+)\}/.exec(key)?.[1])).size, 1, keys.join());
    }
  });
});
