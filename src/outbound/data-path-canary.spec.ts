import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RedisCommandClient } from '../redis/redis-command-client.js';
import { resolveRedisOptions } from '../redis/redis-options.js';
import { RedisSubscriptionStatus } from '../redis/redis-subscription-status.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';
import { CANARY_TASK_PREFIX, DataPathCanary } from './data-path-canary.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';

function setup({ sharded = true, timeoutMs = 60_000 } = {}) {
  const layout = new TaskChannelLayout(
    resolveRedisOptions({
      channel: 'c',
      pubsubMode: sharded ? 'sharded' : 'channel',
      partitions: 8,
    }),
  );
  const status = new RedisSubscriptionStatus();
  status.markSubscribed();
  const sent: Array<{ channel: string; message: { task_id: string; sent_at: number } }> = [];
  const publish = (channel: string, message: string) => {
    sent.push({ channel, message: JSON.parse(message) as (typeof sent)[number]['message'] });
    return Promise.resolve(1);
  };
  const redis = { connection: { spublish: publish, publish } } as unknown as RedisCommandClient;
  const canary = new DataPathCanary(
    { intervalMs: 1_000, timeoutMs },
    'gw-1',
    status,
    redis,
    layout,
  );
  let stalls = 0;
  canary.events.on('stalled', () => (stalls += 1));
  return { layout, status, canary, sent, stalls: () => stalls };
}

/** Lets the clock pass a zero timeout. */
const clockMoves = () => new Promise((resolve) => setTimeout(resolve, 2));

describe('DataPathCanary', () => {
  it('keeps one canary on its own channel on a single Redis', async () => {
    // Arrange
    const { canary, sent, status } = setup({ sharded: false });

    // Act
    await canary.tick();
    canary.receive({ status: 'canary', sent_at: sent[0].message.sent_at }, sent[0].message.task_id);

    // Assert
    assert.deepEqual(canary.channels, ['c']);
    assert.deepEqual(
      sent.map((s) => s.message.task_id),
      [`${CANARY_TASK_PREFIX}gw-1`],
    );
    assert.equal(canary.partitionByNode.size, 0);
    assert.notEqual(status.canaryRoundTripMs, undefined);
    assert.equal(status.nodes.size, 0);
  });

  it('sends one canary per primary, each in the partition chosen for it', async () => {
    // Arrange
    const { canary, sent, layout } = setup();

    // Act
    canary.retarget(
      new Map([
        [A, 3],
        [B, 6],
      ]),
    );
    await canary.tick();

    // Assert
    assert.equal(sent.length, 2);
    for (const { channel, message } of sent) {
      assert.ok(canary.owns(message.task_id));
      assert.ok(message.task_id.startsWith(`${CANARY_TASK_PREFIX}gw-1:`));
      assert.equal(layout.channelOf(message.task_id), channel);
    }
    assert.deepEqual(
      sent.map(({ message }) => layout.partitionOf(message.task_id)),
      [3, 6],
    );
    assert.deepEqual([...canary.channelsByPartition.keys()], [3, 6]);
  });

  it('records each primary’s round trip, and reports the overdue one stalled', async () => {
    // Arrange
    const { canary, sent, status, stalls, layout } = setup({ timeoutMs: 0 });
    status.setNodes([A, B]);
    canary.retarget(
      new Map([
        [A, 3],
        [B, 6],
      ]),
    );
    await canary.tick();

    // Act: A's canary comes back, B's does not.
    const fromA = sent.find(({ message }) => layout.partitionOf(message.task_id) === 3);
    assert.ok(fromA);
    canary.receive({ status: 'canary', sent_at: fromA.message.sent_at }, fromA.message.task_id);
    await clockMoves();
    await canary.tick();

    // Assert
    assert.notEqual(status.nodes.get(A)?.canaryRoundTripMs, undefined);
    assert.equal(status.nodes.get(A)?.dataPathHealthy, true);
    assert.equal(status.nodes.get(B)?.dataPathHealthy, false);
    assert.equal(status.dataPathHealthy, false);
    assert.equal(stalls(), 1);
  });

  it('keeps the canary of a primary whose partition did not change, and ignores old ones', async () => {
    // Arrange
    const { canary, sent, status } = setup();
    status.setNodes([A, B]);
    canary.retarget(
      new Map([
        [A, 3],
        [B, 6],
      ]),
    );
    await canary.tick();
    const [toA, toB] = sent;

    // Act: B failed over to C, on the same partition; A unchanged.
    canary.retarget(
      new Map([
        [A, 3],
        ['127.0.0.1:7003', 6],
      ]),
    );
    canary.receive({ status: 'canary', sent_at: toA.message.sent_at }, toA.message.task_id);

    // Assert
    assert.ok(canary.owns(toA.message.task_id));
    assert.notEqual(status.nodes.get(A)?.canaryRoundTripMs, undefined);
    assert.deepEqual(
      [...canary.partitionByNode],
      [
        [A, 3],
        ['127.0.0.1:7003', 6],
      ],
    );
    assert.equal(toB.channel, canary.channelsByPartition.get(6)?.[0]);
  });
});
