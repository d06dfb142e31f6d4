import { Inject, Injectable } from '@nestjs/common';
import { once } from 'node:events';
import { TASK_ID_PATTERN } from '@task-status/client/protocol';
import { RedisCommandClient } from '../redis/redis-command-client.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';
import { TASK_STATE_OPTIONS, type ResolvedTaskStateOptions } from './task-state-options.js';

/**
 * Reads the latest state publishers keep under `{snapshotKeyPrefix}{task_id}` (SETEX before
 * PUBLISH), or `{snapshotKeyPrefix}{p}:{task_id}` in sharded mode. A provider of its own so that
 * tests can put a gate in front of it.
 */
@Injectable()
export class TaskSnapshotReader {
  constructor(
    @Inject(TASK_STATE_OPTIONS) private readonly options: ResolvedTaskStateOptions,
    private readonly redis: RedisCommandClient,
    private readonly layout: TaskChannelLayout,
  ) {}

  get enabled(): boolean {
    return this.options.snapshotKeyPrefix !== '';
  }

  /**
   * Resolves once the command connection is ready (at once if it is); rejects after `timeoutMs`.
   * After a Redis restart it may come back later than the subscriber.
   */
  async whenReady(timeoutMs: number): Promise<void> {
    const connection = this.redis.connection;
    if (connection.status === 'ready') return;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      await once(connection, 'ready', { signal: controller.signal });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Group snapshots need both the state keys and the groups' task indexes. */
  get groupsEnabled(): boolean {
    return this.enabled && this.options.groupKeyPrefix !== '';
  }

  /**
   * The ids of a group's tasks in its index (`{groupKeyPrefix}{group}`, or
   * `{groupKeyPrefix}{g<p>}:{group}` in sharded mode: a sorted set the publisher keeps by publish
   * time), the most recently published first, at most `limit`.
   */
  async readGroup(groupId: string, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const members = await this.redis.connection.zrevrange(
      this.layout.groupKeyOf(this.options.groupKeyPrefix, groupId),
      0,
      limit - 1,
    );
    return members.filter((member) => TASK_ID_PATTERN.test(member));
  }

  read(taskId: string): Promise<string | null> {
    return this.redis.connection.get(this.layout.keyOf(this.options.snapshotKeyPrefix, taskId));
  }

  /**
   * The stored states of many tasks, in the same order. One MGET, whose keys may span slots on a
   * single Redis; on a Redis Cluster one MGET per partition (its keys share a slot), sent at once.
   */
  async readMany(taskIds: readonly string[]): Promise<Array<string | null>> {
    const prefix = this.options.snapshotKeyPrefix;
    const connection = this.redis.connection;
    if (!this.redis.isCluster) {
      return connection.mget(taskIds.map((id) => this.layout.keyOf(prefix, id)));
    }
    const positions = new Map<number, number[]>();
    taskIds.forEach((taskId, index) => {
      const partition = this.layout.partitionOf(taskId);
      const batch = positions.get(partition);
      if (batch) batch.push(index);
      else positions.set(partition, [index]);
    });
    const states = new Array<string | null>(taskIds.length).fill(null);
    await Promise.all(
      Array.from(positions.values(), async (indexes) => {
        const values = await connection.mget(
          indexes.map((index) => this.layout.keyOf(prefix, taskIds[index])),
        );
        indexes.forEach((position, i) => (states[position] = values[i] ?? null));
      }),
    );
    return states;
  }
}
