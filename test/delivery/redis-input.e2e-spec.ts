import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerMessage } from '@task-status/client/protocol';
import { shardChannelOf } from '@task-status/client/sharded-layout';
import { getJson, getStats } from '../support/gateway-stats.js';
import { CHANNEL, useGateway } from '../support/use-gateway.js';
import { WsTestClient } from '../support/ws-test-client.js';

function isUpdateFor(taskId: string): (message: ServerMessage) => boolean {
  return (m) => m.type === 'status_update' && m.task_id === taskId;
}

/** Raw payloads a misbehaving publisher might send, and the reason the gateway drops each. */
const MALFORMED: Array<{ name: string; payload: string; reason: string }> = [
  { name: 'not JSON', payload: 'task good-task is at 40%', reason: 'invalid_json' },
  { name: 'truncated JSON', payload: '{"task_id":"good-task","status":', reason: 'invalid_json' },
  { name: 'an empty string', payload: '', reason: 'invalid_json' },
  { name: 'a JSON array', payload: '[{"task_id":"good-task"}]', reason: 'not_an_object' },
  { name: 'a number', payload: '42', reason: 'not_an_object' },
  { name: 'null', payload: 'null', reason: 'not_an_object' },
  { name: 'a JSON string', payload: '"good-task"', reason: 'not_an_object' },
  { name: 'no task_id', payload: '{"status":"processing"}', reason: 'missing_task_id' },
  { name: 'a numeric task_id', payload: '{"task_id":123}', reason: 'missing_task_id' },
  { name: 'a null task_id', payload: '{"task_id":null}', reason: 'missing_task_id' },
  {
    name: 'task_id only under __proto__',
    payload: '{"__proto__":{"task_id":"good-task"},"status":"x"}',
    reason: 'missing_task_id',
  },
  { name: 'a task_id with a space', payload: '{"task_id":"good task"}', reason: 'invalid_task_id' },
  { name: 'an empty task_id', payload: '{"task_id":""}', reason: 'invalid_task_id' },
  {
    name: 'a 129-character task_id',
    payload: JSON.stringify({ task_id: 'g'.repeat(129) }),
    reason: 'invalid_task_id',
  },
];

const PARTITIONS = 64;

// In both pub/sub modes: malformed payloads on the one channel, or SPUBLISHed on the shard
// channel of the watched task (the only channels a sharded instance receives).
for (const pubsubMode of ['channel', 'sharded'] as const) {
  describe(`untrusted input on the Redis channel (${pubsubMode} mode)`, () => {
    const sharded = pubsubMode === 'sharded';
    const fixture = useGateway({ settings: { pubsubMode, partitions: PARTITIONS } });
    // One client for the whole suite (the tests build on what it received), so not one of the
    // fixture's per-test clients.
    let watcher: WsTestClient;

    before(async () => {
      watcher = await WsTestClient.connect(fixture.wsUrl);
      await watcher.subscribe('good-task');
    });

    after(() => watcher?.close());

    const goodSeqs = () =>
      watcher
        .updates('good-task')
        .map((m) => (m.type === 'status_update' ? m.data.seq : undefined));

    it('drops malformed messages, counts them by reason and keeps the good ones flowing in order', async () => {
      const statsBefore = await getStats(fixture.httpUrl);
      assert.equal(statsBefore.messages.received, 0);

      // good 0, bad, good 1, bad, ..., then the large unwatched one, then the last good one.
      const huge = JSON.stringify({ task_id: 'nobody-watches', blob: 'x'.repeat(1024 * 1024) });
      const payloads: string[] = [];
      MALFORMED.forEach(({ payload }, seq) => {
        payloads.push(JSON.stringify({ task_id: 'good-task', status: 'processing', seq }));
        payloads.push(payload);
      });
      payloads.push(huge);
      payloads.push(
        // Not a terminal status: the later tests publish to the same task.
        JSON.stringify({ task_id: 'good-task', status: 'processing', seq: MALFORMED.length }),
      );
      const pipeline = fixture.publisher.pipeline();
      for (const payload of payloads) {
        // The unwatched update on its own channel: a sharded instance never receives it.
        fixture.publishIn(pipeline, payload === huge ? 'nobody-watches' : 'good-task', payload);
      }
      await pipeline.exec();

      const goodCount = MALFORMED.length + 1;
      await watcher.take(goodCount, isUpdateFor('good-task'), 10_000);
      await watcher.ping(); // the connection is alive and nothing else is pending before the pong
      assert.deepEqual(
        goodSeqs(),
        Array.from({ length: goodCount }, (_, i) => i),
      );
      assert.equal(watcher.received.filter((m) => m.type === 'error').length, 0);

      const stats = await getStats(fixture.httpUrl);
      const expectedDrops: Record<string, number> = {
        invalid_json: 0,
        not_an_object: 0,
        missing_task_id: 0,
        invalid_task_id: 0,
        wrong_channel: 0,
      };
      for (const { reason } of MALFORMED) expectedDrops[reason] += 1;
      assert.deepEqual(stats.messages.dropped_by_reason, expectedDrops);
      assert.equal(stats.messages.dropped, MALFORMED.length);
      const unwatched = sharded ? 0 : 1; // the 1 MB update nobody watches
      assert.equal(stats.messages.received, payloads.length - 1 + unwatched);
      assert.equal(stats.messages.routed, goodCount);
      assert.equal(stats.messages.unrouted, unwatched);
      assert.equal(stats.frames_delivered, goodCount);

      // Still healthy, and still accepting new clients.
      const health = await getJson<{ status: string }>(`${fixture.httpUrl}/health`);
      assert.equal(health.status, 200);
      assert.equal(health.body.status, 'healthy');
      const newcomer = await fixture.connect();
      await newcomer.ping();
      await newcomer.close();
    });

    it('passes a __proto__ key through as plain data without polluting any prototype', async () => {
      const payload =
        '{"task_id":"good-task","status":"processing","__proto__":{"polluted":true},"seq":"proto"}';
      await fixture.publishIn(fixture.publisher, 'good-task', payload);
      const update = await watcher.next(isUpdateFor('good-task'));
      assert.ok(update.type === 'status_update');
      assert.equal(update.data.seq, 'proto');
      assert.equal(update.data.status, 'processing');
      // The key arrives as an own field, exactly as published, not as the object's prototype.
      assert.ok(Object.hasOwn(update.data, '__proto__'));
      assert.deepEqual(Object.getOwnPropertyDescriptor(update.data, '__proto__')?.value, {
        polluted: true,
      });
      assert.equal(Object.getPrototypeOf(update.data), Object.prototype);
      // The gateway runs in this process: nothing leaked into Object.prototype.
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false);
    });

    it('ignores messages published on another channel', async () => {
      const statsBefore = await getStats(fixture.httpUrl);
      const foreign = JSON.stringify({ task_id: 'good-task', status: 'foreign', seq: 'foreign' });
      for (const channel of ['other_channel', `${CHANNEL}:extra`, 'TASK_STATUS_UPDATES']) {
        assert.equal(
          await fixture.publisher.publish(channel, foreign),
          0,
          `nobody listens on ${channel}`,
        );
      }
      if (sharded) {
        // Neither the classic channel nor another base's shard channel of the task.
        for (const channel of [CHANNEL, shardChannelOf('other_channel', 'good-task', PARTITIONS)]) {
          const receivers =
            channel === CHANNEL
              ? await fixture.publisher.publish(channel, foreign)
              : await fixture.publisher.spublish(channel, foreign);
          assert.equal(receivers, 0, `nobody listens on ${channel}`);
        }
      }
      await fixture.publish({ task_id: 'good-task', status: 'sentinel', seq: 'sentinel' });
      const next = await watcher.next(isUpdateFor('good-task'));
      assert.ok(next.type === 'status_update');
      assert.equal(next.data.seq, 'sentinel');
      assert.equal(
        watcher.updates().filter((m) => m.type === 'status_update' && m.data.seq === 'foreign')
          .length,
        0,
      );

      const stats = await getStats(fixture.httpUrl);
      assert.equal(stats.messages.received - statsBefore.messages.received, 1);
    });

    if (sharded) {
      it("drops and counts an update SPUBLISHed on another task's shard channel", async () => {
        // The watcher holds the task the payload names too: only the channel check keeps it out.
        await watcher.subscribe('other-task');
        const statsBefore = await getStats(fixture.httpUrl);
        const intruders = [
          JSON.stringify({ task_id: 'other-task', status: 'processing', seq: 'intruder' }),
          // Not in the canonical form, so the task id comes from the full parse.
          JSON.stringify({ status: 'processing', seq: 'intruder', task_id: 'other-task' }),
        ];
        for (const payload of intruders) {
          assert.equal(await fixture.publishIn(fixture.publisher, 'good-task', payload), 1);
        }
        await fixture.publish({ task_id: 'other-task', status: 'processing', seq: 'own' });

        // One subscriber connection: the intruders arrived before the task's own update.
        const next = await watcher.next(isUpdateFor('other-task'));
        assert.ok(next.type === 'status_update');
        assert.equal(next.data.seq, 'own');
        assert.equal(
          watcher.updates().filter((m) => m.type === 'status_update' && m.data.seq === 'intruder')
            .length,
          0,
        );
        const stats = await getStats(fixture.httpUrl);
        const before = statsBefore.messages;
        assert.equal(stats.messages.dropped_by_reason.wrong_channel, 2);
        assert.equal(stats.messages.dropped - before.dropped, 2);
        assert.equal(stats.messages.received - before.received, 3);
        assert.equal(stats.messages.routed - before.routed, 1);
      });
    }
  });
}
