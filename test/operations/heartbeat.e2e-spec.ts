import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLOCK } from '../../src/clock/clock.js';
import { ManualClock } from '../support/manual-clock.js';
import { useGateway } from '../support/use-gateway.js';
import { waitUntil, withTimeout } from '../support/with-timeout.js';
import { WsTestClient } from '../support/ws-test-client.js';

const HEARTBEAT_INTERVAL_MS = 200;

interface Stats {
  total_connections: number;
  total_subscriptions: number;
  connections_per_task: Record<string, number>;
  heartbeat_terminations: number;
}

/** Resolves when the socket has received `count` protocol pings. */
function pingsReceived(client: WsTestClient, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onPing = (): void => {
      seen += 1;
      if (seen < count) return;
      client.socket.off('ping', onPing);
      resolve();
    };
    client.socket.on('ping', onPing);
  });
}

describe('protocol-level heartbeat', () => {
  // The gateway beats when the test moves this clock: with a real 200 ms interval, a busy
  // machine could beat again before it had read a healthy client's pong, and drop it.
  const clock = new ManualClock();
  const fixture = useGateway({
    settings: { heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS },
    start: { configure: (builder) => builder.overrideProvider(CLOCK).useValue(clock) },
  });

  const stats = async (): Promise<Stats> => {
    const response = await fetch(`${fixture.httpUrl}/ws/stats`);
    return (await response.json()) as Stats;
  };

  /** One heartbeat: who answered the last ping is pinged again, who did not is terminated. */
  const beat = (): void => clock.advance(HEARTBEAT_INTERVAL_MS);

  /**
   * Beats once and waits until the healthy client's answer has reached the gateway: ws sends
   * the pong as the ping arrives, so it is ahead of the round trip of a protocol message.
   */
  const beatAnsweredBy = async (healthy: WsTestClient): Promise<void> => {
    const pinged = pingsReceived(healthy, 1);
    beat();
    await withTimeout(pinged, 5_000, 'a ping to the healthy client');
    await healthy.ping();
  };

  it('terminates a connection that does not answer pings and frees its subscriptions, keeping a healthy one', async () => {
    const before = await stats();
    const healthy = await fixture.connect();
    // ws answers pings itself unless told not to: this one plays a dead peer.
    const silent = await fixture.connect({ autoPong: false });
    const silentPinged = pingsReceived(silent, 1);
    await healthy.subscribe('hb-shared');
    await silent.subscribe('hb-shared');
    await silent.subscribe('hb-silent-only');
    const subscribed = await stats();
    assert.equal(subscribed.connections_per_task['hb-shared'], 2);
    assert.equal(subscribed.connections_per_task['hb-silent-only'], 1);

    await beatAnsweredBy(healthy);
    await withTimeout(silentPinged, 5_000, 'a ping to the silent client');
    assert.equal(silent.socket.readyState, silent.socket.OPEN, 'not dropped at its first ping');
    // The next beat finds the silent client's ping unanswered.
    await beatAnsweredBy(healthy);
    const { code } = await withTimeout(silent.closed, 5_000, 'the silent client to be dropped');
    assert.equal(code, 1006, 'terminated, without a close handshake');

    await waitUntil(
      async () => (await stats()).total_connections === before.total_connections + 1,
      5_000,
      'the server to forget the dropped connection',
    );
    const afterDrop = await stats();
    assert.equal(afterDrop.connections_per_task['hb-shared'], 1);
    assert.equal(afterDrop.connections_per_task['hb-silent-only'], undefined);
    assert.equal(afterDrop.total_subscriptions, before.total_subscriptions + 1);
    assert.ok(
      afterDrop.heartbeat_terminations > before.heartbeat_terminations,
      'the termination is counted',
    );

    // Five pings answered is four intervals survived, more than the silent one lasted.
    for (let ping = 3; ping <= 5; ping += 1) await beatAnsweredBy(healthy);
    assert.equal(healthy.socket.readyState, healthy.socket.OPEN);
    await healthy.ping();
    await fixture.publish({ task_id: 'hb-shared', status: 'alive' });
    const update = await healthy.next((m) => m.type === 'status_update');
    assert.deepEqual(update, {
      type: 'status_update',
      task_id: 'hb-shared',
      data: { status: 'alive' },
    });
    assert.equal((await stats()).heartbeat_terminations, afterDrop.heartbeat_terminations);
  });
});
