import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { WebSocket, type ClientOptions } from 'ws';
import { publishTaskStatus } from '../../client/src/publisher.js';
import { TaskStatusClient } from '../../client/src/task-status-client.js';
import type { WebSocketConstructor } from '../../client/src/websocket-like.js';
import { AppProcess } from '../support/app-process.js';
import { RedisServer } from '../support/redis-server.js';
import { waitUntil } from '../support/with-timeout.js';

const TASKS = 20;
const CLIENTS = 100;
// A guard against hangs only: exit code 0 says the app kept to its own SHUTDOWN_TIMEOUT_MS (past
// it, it exits 1), and a busy machine can take seconds more to deliver the signal and reap it.
const EXIT_WAIT_MS = 30_000;

/** Every raw status_update frame each client received, to check the gateway's ordering itself. */
const rawVersions = new Map<string, number[]>();

/** The ws WebSocket, recording the versions of the frames it receives per (client, task). */
function recordingWebSocket(clientId: number): WebSocketConstructor {
  return class RecordingWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[], options?: ClientOptions) {
      super(url, protocols, options);
      this.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as {
          type: string;
          task_id?: string;
          data?: { version?: number };
        };
        if (frame.type !== 'status_update' || typeof frame.data?.version !== 'number') return;
        const key = `${clientId}/${frame.task_id}`;
        const list = rawVersions.get(key) ?? [];
        list.push(frame.data.version);
        rawVersions.set(key, list);
      });
    }
  };
}

describe('gateway instances failing and restarting under typed clients', () => {
  let redis: RedisServer;
  let publisher: Redis;
  const apps: AppProcess[] = [];
  const clients: TaskStatusClient[] = [];
  let version = 0;
  const lastVersion = new Map<string, number>();

  before(async () => {
    redis = await RedisServer.start();
    publisher = new Redis(redis.url);
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(apps.map((app) => app.stop()));
    publisher?.disconnect();
    await redis?.stop();
  });

  const startGateway = async (port?: number): Promise<AppProcess> => {
    const env = {
      REDIS_URL: redis.url,
      LOG_LEVEL: 'WARNING',
      WS_HEARTBEAT_INTERVAL_MS: '0',
      SHUTDOWN_TIMEOUT_MS: '8000',
      SHUTDOWN_DRAIN_WINDOW_MS: '1500',
    };
    let app: AppProcess;
    if (port === undefined) {
      app = await AppProcess.startServing(env);
    } else {
      app = AppProcess.spawn({ ...env, PORT: String(port), HOST: '127.0.0.1' });
      await app.waitUntilServing();
    }
    apps.push(app);
    return app;
  };

  const publish = async (taskId: string) => {
    version += 1;
    lastVersion.set(taskId, version);
    await publishTaskStatus(publisher, { task_id: taskId, status: 'processing', version });
  };

  /** Publishes round-robin over the tasks until `stop()`; bounded in count. */
  const keepPublishing = () => {
    let running = true;
    const loop = (async () => {
      for (let round = 0; running && round < 50_000; round += 1) {
        await publish(`task-${round % TASKS}`);
        if (round % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    return async () => {
      running = false;
      await loop;
      for (let i = 0; i < TASKS; i += 1) await publish(`task-${i}`);
    };
  };

  const staleClients = () =>
    clients.filter((client, i) => {
      const taskId = `task-${i % TASKS}`;
      return client.latest(taskId)?.data.version !== lastVersion.get(taskId);
    }).length;

  const backwardsFrames = () => {
    let backwards = 0;
    for (const versions of rawVersions.values()) {
      for (let k = 1; k < versions.length; k += 1)
        if (versions[k] < versions[k - 1]) backwards += 1;
    }
    return backwards;
  };

  it('moves clients of a SIGKILLed instance to the next URL; they resubscribe and converge', async () => {
    const first = await startGateway();
    const second = await startGateway();
    for (let i = 0; i < CLIENTS; i += 1) {
      const client = new TaskStatusClient({
        url: [first.wsUrl, second.wsUrl],
        WebSocket: recordingWebSocket(i),
        reconnectBaseDelayMs: 100,
        reconnectMaxDelayMs: 1_000,
        pingIntervalMs: 0,
      });
      client.subscribe(`task-${i % TASKS}`);
      client.connect();
      clients.push(client);
    }
    const onFirst = new Set<TaskStatusClient>();
    const onSecond = new Set<TaskStatusClient>();
    for (const client of clients) {
      client.on('state', (change) => {
        if (change.state !== 'open') return;
        (change.url === second.wsUrl ? onSecond : onFirst).add(client);
      });
    }
    await waitUntil(() => onFirst.size === CLIENTS, 15_000, 'every client on the first instance');

    const stopPublishing = keepPublishing();
    await waitUntil(() => version >= 300, 10_000, 'traffic before the kill');
    const killedAt = performance.now();
    first.signal('SIGKILL');
    await waitUntil(() => onSecond.size === CLIENTS, 20_000, 'every client on the second instance');
    const movedMs = performance.now() - killedAt;
    await stopPublishing();
    const publishedAt = performance.now();
    await waitUntil(() => staleClients() === 0, 15_000, 'every client to converge');

    assert.equal(staleClients(), 0);
    assert.equal(backwardsFrames(), 0, 'no frame older than one already received');
    console.log(
      `instance SIGKILL: ${CLIENTS} clients, ${TASKS} tasks, ${version} updates; all moved in ` +
        `${Math.round(movedMs)} ms, converged ${Math.round(performance.now() - publishedAt)} ms ` +
        `after the last publish; stale clients 0`,
    );
  });

  it('survives a rolling restart of both instances, draining each in jittered batches', async () => {
    // The clients sit on the second instance now; bring the first back on its port.
    const second = apps[1];
    const first = await startGateway(apps[0].port);
    const reconnectTimes: number[] = [];
    for (const client of clients) {
      client.on('state', (change) => {
        if (change.state === 'open') reconnectTimes.push(performance.now());
      });
    }
    const stopPublishing = keepPublishing();

    const restart = async (app: AppProcess, otherUrl: string) => {
      const movedBefore = reconnectTimes.length;
      const drainStarted = performance.now();
      app.signal('SIGTERM');
      const exit = await app.waitForExit(EXIT_WAIT_MS);
      assert.equal(exit.code, 0, app.output);
      await waitUntil(
        () => reconnectTimes.length - movedBefore >= CLIENTS,
        20_000,
        `every client to reconnect to ${otherUrl}`,
      );
      const window = reconnectTimes.slice(movedBefore).map((at) => at - drainStarted);
      const perSlice = new Map<number, number>();
      for (const at of window) {
        const slice = Math.floor(at / 100);
        perSlice.set(slice, (perSlice.get(slice) ?? 0) + 1);
      }
      return {
        spreadMs: Math.max(...window) - Math.min(...window),
        peakPer100Ms: Math.max(...perSlice.values()),
      };
    };

    const firstDrain = await restart(second, first.wsUrl);
    const restartedSecond = await startGateway(second.port);
    const secondDrain = await restart(first, restartedSecond.wsUrl);
    await startGateway(first.port);
    await stopPublishing();
    const publishedAt = performance.now();
    await waitUntil(() => staleClients() === 0, 15_000, 'every client to converge');

    assert.equal(backwardsFrames(), 0, 'no client saw an older state after a newer one');
    for (const drain of [firstDrain, secondDrain]) {
      assert.ok(drain.peakPer100Ms < CLIENTS, `not all ${CLIENTS} reconnects in one 100 ms slice`);
    }
    console.log(
      `rolling restart: ${CLIENTS} clients, ${version} updates in total; reconnects spread over ` +
        `${Math.round(firstDrain.spreadMs)} / ${Math.round(secondDrain.spreadMs)} ms, peak ` +
        `${firstDrain.peakPer100Ms} / ${secondDrain.peakPer100Ms} per 100 ms; converged ` +
        `${Math.round(performance.now() - publishedAt)} ms after the last publish; stale clients 0`,
    );
  });
});
