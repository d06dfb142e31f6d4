/**
 * bare-relay: the smallest correct Node relay of our protocol, the bench's yardstick for what
 * Node + ws can do at best. `ws` + `ioredis`, a Map of Sets, each update serialized once.
 *
 * Client -> server: {"type":"subscribe"|"unsubscribe","task_id":"…"}, {"type":"ping"}.
 * Server -> client: subscribed / unsubscribed / pong / error, and
 * {"type":"status_update","task_id":"…","data":{…the published object without task_id…}}.
 *
 * Environment: PORT (8001), HOST (127.0.0.1), REDIS_URL (redis://127.0.0.1:6379),
 * REDIS_PUBSUB_CHANNEL (task_status_updates).
 */
import { Redis } from 'ioredis';
import { WebSocketServer, WebSocket } from 'ws';

const port = Number(process.env.PORT ?? 8001);
const host = process.env.HOST ?? '127.0.0.1';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const channel = process.env.REDIS_PUBSUB_CHANNEL ?? 'task_status_updates';
const TASK_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const AS_TEXT = { binary: false } as const;

const subscribers = new Map<string, Set<WebSocket>>();

function error(code: string, message: string): string {
  return JSON.stringify({ type: 'error', code, message });
}

function onClientMessage(socket: WebSocket, tasks: Set<string>, raw: Buffer): void {
  let message: unknown;
  try {
    message = JSON.parse(raw.toString());
  } catch {
    socket.send(error('invalid_json', 'Message is not valid JSON'));
    return;
  }
  const { type, task_id: taskId } = (message ?? {}) as { type?: unknown; task_id?: unknown };
  if (type === 'ping') {
    socket.send('{"type":"pong"}');
    return;
  }
  if (type !== 'subscribe' && type !== 'unsubscribe') {
    socket.send(error('unknown_type', 'Unknown message type'));
    return;
  }
  if (typeof taskId !== 'string' || !TASK_ID.test(taskId)) {
    socket.send(error('invalid_message', 'Invalid task_id'));
    return;
  }
  if (type === 'subscribe') {
    let set = subscribers.get(taskId);
    if (!set) subscribers.set(taskId, (set = new Set()));
    set.add(socket);
    tasks.add(taskId);
    socket.send(
      JSON.stringify({ type: 'subscribed', task_id: taskId, message: 'Successfully subscribed' }),
    );
  } else {
    unsubscribe(socket, taskId);
    tasks.delete(taskId);
    socket.send(
      JSON.stringify({
        type: 'unsubscribed',
        task_id: taskId,
        message: 'Successfully unsubscribed',
      }),
    );
  }
}

function unsubscribe(socket: WebSocket, taskId: string): void {
  const set = subscribers.get(taskId);
  if (!set) return;
  set.delete(socket);
  if (set.size === 0) subscribers.delete(taskId);
}

function relay(payload: string): void {
  let update: unknown;
  try {
    update = JSON.parse(payload);
  } catch {
    return;
  }
  if (typeof update !== 'object' || update === null || Array.isArray(update)) return;
  const { task_id: taskId, ...data } = update as Record<string, unknown>;
  if (typeof taskId !== 'string') return;
  const sockets = subscribers.get(taskId);
  if (!sockets) return;
  const frame = Buffer.from(JSON.stringify({ type: 'status_update', task_id: taskId, data }));
  for (const socket of sockets) {
    if (socket.readyState === WebSocket.OPEN) socket.send(frame, AS_TEXT);
  }
}

const server = new WebSocketServer({
  host,
  port,
  path: '/ws',
  maxPayload: 4096,
  clientTracking: false,
});
server.on('connection', (socket) => {
  const tasks = new Set<string>();
  socket.on('message', (raw, isBinary) => {
    if (isBinary) socket.send(error('unsupported_frame', 'Binary frames are not supported'));
    // The default binaryType ('nodebuffer'): a message is one Buffer.
    else onClientMessage(socket, tasks, raw as Buffer);
  });
  socket.on('close', () => {
    for (const taskId of tasks) unsubscribe(socket, taskId);
  });
  socket.on('error', () => undefined);
});

const redis = new Redis(redisUrl);
redis.on('error', (err: Error) => console.error(`redis: ${err.message}`));
redis.on('message', (_channel: string, payload: string) => relay(payload));
redis.subscribe(channel).catch((err: unknown) => {
  console.error(`subscribe failed: ${String(err)}`);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
