import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import type { ServerMessage } from '@task-status/client/protocol';
import { RATE_LIMIT_CLOCK } from '../../src/rate-limit/rate-limit-clock.js';
import { getStats } from '../support/gateway-stats.js';
import { ManualClock } from '../support/manual-clock.js';
import { useGateway } from '../support/use-gateway.js';
import { withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const PER_SECOND = 10;
const BURST = 5;
const MAX_VIOLATIONS = 3;

const isAnswer = (message: ServerMessage): boolean => message.type !== 'status_update';
const kinds = (messages: ServerMessage[]): string[] =>
  messages.map((m) => (m.type === 'error' ? `error:${m.code}` : m.type));

describe('inbound message rate per connection', () => {
  // The buckets refill only when a test moves this clock: on a busy machine, real time passing
  // between two messages of a burst would refill a token and change the counts.
  const clock = new ManualClock(0);
  const fixture = useGateway({
    settings: {
      rateLimitPerSecond: PER_SECOND,
      rateLimitBurst: BURST,
      rateLimitMaxViolations: MAX_VIOLATIONS,
      rateLimitViolationWindowMs: 60_000,
    },
    start: {
      configure: (builder) =>
        builder.overrideProvider(RATE_LIMIT_CLOCK).useValue(() => clock.now()),
    },
  });
  const connect = () => fixture.connect();

  /** Sends `count` pings in one go, as fast as the socket takes them. */
  const pingBurst = (client: WsTestClient, count: number): void => {
    for (let i = 0; i < count; i += 1) client.send({ type: 'ping' });
  };

  it('answers a burst of exactly its size, then rate_limited for each message over it, in order', async () => {
    const client = await connect();

    pingBurst(client, BURST + 2);
    const answers = await client.take(BURST + 2, isAnswer);

    assert.deepEqual(kinds(answers), [
      ...Array<string>(BURST).fill('pong'),
      'error:rate_limited',
      'error:rate_limited',
    ]);
    const error = answers[BURST];
    assert.ok(error.type === 'error');
    assert.match(error.message, /at most 10 per second, in bursts of 5/);
  });

  it('keeps the connection open under the violation limit and lets it send again once tokens refill', async () => {
    const client = await connect();
    pingBurst(client, BURST + MAX_VIOLATIONS);
    await client.take(BURST + MAX_VIOLATIONS, isAnswer);

    // The bucket refills with time: at 10 per second, 100 ms is exactly one token.
    clock.advance(1_000 / PER_SECOND);
    await client.ping();
    assert.equal(client.socket.readyState, client.socket.OPEN);
  });

  it('does not read an over-limit message: a subscribe past the burst subscribes nothing', async () => {
    const client = await connect();
    pingBurst(client, BURST);
    client.send({ type: 'subscribe', task_id: 'over-the-limit' });
    const answers = await client.take(BURST + 1, isAnswer);

    assert.deepEqual(kinds(answers).slice(-1), ['error:rate_limited']);
    const stats = await getStats(fixture.httpUrl);
    assert.equal(stats.connections_per_task['over-the-limit'], undefined);
  });

  it('closes with 1008 on sustained abuse, after the allowed rate_limited answers', async () => {
    const bystander = await connect();
    const abuser = await connect();
    const before = await getStats(fixture.httpUrl);

    pingBurst(abuser, BURST + MAX_VIOLATIONS + 10);
    const close = await withTimeout(abuser.closed, 5_000, 'the 1008 close');

    assert.equal(close.code, 1008);
    assert.equal(close.reason, 'Rate limit exceeded');
    assert.deepEqual(kinds(abuser.received), [
      ...Array<string>(BURST).fill('pong'),
      ...Array<string>(MAX_VIOLATIONS).fill('error:rate_limited'),
    ]);
    // Other connections are not affected.
    await bystander.ping();
    const after = await getStats(fixture.httpUrl);
    assert.equal(after.rate_limited.closed_connections - before.rate_limited.closed_connections, 1);
    assert.ok(after.rate_limited.messages - before.rate_limited.messages >= MAX_VIOLATIONS + 1);
    assert.equal(after.limits.rate_limit_per_second, PER_SECOND);
    assert.equal(after.limits.rate_limit_burst, BURST);
  });

  it('counts binary frames and protocol pings against the same bucket', async () => {
    const client = await connect();
    for (let i = 0; i < BURST - 1; i += 1) client.socket.ping();
    client.sendRaw(Buffer.from([1, 2, 3]), true);
    client.send({ type: 'ping' });
    const answers = await client.take(2, isAnswer);

    assert.deepEqual(kinds(answers), ['error:unsupported_frame', 'error:rate_limited']);
  });

  it('closes a connection that floods protocol pings', async () => {
    const client = await connect();
    const pongs = once(client.socket, 'pong');
    for (let i = 0; i < BURST + MAX_VIOLATIONS + 5; i += 1) client.socket.ping();
    await withTimeout(pongs, 5_000, 'a pong');

    const close = await withTimeout(client.closed, 5_000, 'the 1008 close');
    assert.equal(close.code, 1008);
  });

  it('gives every connection its own bucket', async () => {
    const first = await connect();
    const second = await connect();
    pingBurst(first, BURST + 1);
    await first.take(BURST + 1, isAnswer);

    pingBurst(second, BURST);
    const answers = await second.take(BURST, isAnswer);
    assert.deepEqual(kinds(answers), Array<string>(BURST).fill('pong'));
  });

  describe('with the rate limit off', () => {
    const unlimited = useGateway({ settings: { rateLimitPerSecond: 0 } });

    it('lets everything through when the rate limit is off (0)', async () => {
      const client = await unlimited.connect();
      pingBurst(client, 300);
      const answers = await client.take(300, isAnswer);
      assert.ok(answers.every((message) => message.type === 'pong'));
    });
  });
});
