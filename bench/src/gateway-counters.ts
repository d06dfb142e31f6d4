import { get } from 'node:http';

const REQUEST_TIMEOUT_MS = 5_000;

/** The gateway's own counts of its traffic and slow-consumer handling, from GET /ws/stats. */
export interface GatewayCounters {
  connections: number;
  /** Distinct tasks with a subscriber on this instance. */
  tasksWithSubscribers: number;
  /** Update messages received from Redis (canaries aside), well-formed or not. */
  messagesReceived: number;
  /** Of them, updates of a task watched here. */
  updatesRouted: number;
  /** Of them, updates of a task nobody here watches. */
  updatesUnrouted: number;
  framesDelivered: number;
  /** Sockets whose frames were held back (over WS_BACKPRESSURE_BYTES), ever. */
  slowConsumers: number;
  /** Held-back frames replaced by a newer state of the same task. */
  framesCoalesced: number;
  /** Held-back frames discarded because their socket closed or was closed as slow. */
  framesDropped: number;
  /** Slow sockets closed with 1013 past WS_SLOW_CLIENT_MAX_BYTES. */
  slowConsumerCloses: number;
  /** Connections terminated for a missed pong (a client that does not read cannot answer). */
  heartbeatTerminations: number;
}

interface StatsBody {
  total_connections: number;
  tasks_with_subscribers: number;
  messages: { received: number; routed: number; unrouted: number };
  frames_delivered: number;
  heartbeat_terminations: number;
  slow_consumers: {
    detected: number;
    frames_coalesced: number;
    frames_dropped: number;
    closed: number;
  };
}

/**
 * Reads the counters of a gateway target (the baselines have no such endpoint). `/ws/stats` is
 * open: the bench sets neither authentication nor STATS_TOKEN. Each request has a connection of
 * its own, closed with the answer (no agent), so that none is left open to count as the target's.
 */
export function readGatewayCounters(port: number): Promise<GatewayCounters> {
  return new Promise((resolve, reject) => {
    const request = get(
      { host: '127.0.0.1', port, path: '/ws/stats?limit=1', agent: false },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('error', reject);
        response.on('end', () => {
          if (response.statusCode !== 200) {
            reject(new Error(`GET /ws/stats answered ${response.statusCode}`));
            return;
          }
          try {
            const body = JSON.parse(text) as StatsBody;
            resolve({
              connections: body.total_connections,
              tasksWithSubscribers: body.tasks_with_subscribers,
              messagesReceived: body.messages.received,
              updatesRouted: body.messages.routed,
              updatesUnrouted: body.messages.unrouted,
              framesDelivered: body.frames_delivered,
              slowConsumers: body.slow_consumers.detected,
              framesCoalesced: body.slow_consumers.frames_coalesced,
              framesDropped: body.slow_consumers.frames_dropped,
              slowConsumerCloses: body.slow_consumers.closed,
              heartbeatTerminations: body.heartbeat_terminations,
            });
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      },
    );
    request.setTimeout(REQUEST_TIMEOUT_MS, () =>
      request.destroy(new Error(`GET /ws/stats: no answer within ${REQUEST_TIMEOUT_MS} ms`)),
    );
    request.on('error', reject);
  });
}
