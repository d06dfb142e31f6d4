/**
 * socketio: the same service as a team would write it with Socket.IO 4 and
 * @socket.io/redis-adapter: one room per task, WebSocket transport only.
 *
 * Client -> server events: subscribe / unsubscribe with {task_id}.
 * Server -> client events: subscribed / unsubscribed {task_id, message}, error {code, message},
 * status_update {task_id, data}.
 *
 * Updates come from the same Redis channel as for the other targets. Every instance receives
 * every update there, so each one emits to its own sockets only (`io.local`); broadcasting through
 * the adapter as well would deliver each update once per instance. The adapter still carries
 * everything that spans instances (fetchSockets, serverSideEmit, remote joins).
 * SOCKETIO_BROADCAST=adapter emits through the adapter instead (`io.to`), to measure its cost.
 *
 * Environment: PORT (8001), HOST (127.0.0.1), REDIS_URL (redis://127.0.0.1:6379),
 * REDIS_PUBSUB_CHANNEL (task_status_updates), SOCKETIO_BROADCAST (local | adapter).
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 8001);
const host = process.env.HOST ?? '127.0.0.1';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const channel = process.env.REDIS_PUBSUB_CHANNEL ?? 'task_status_updates';
const throughAdapter = process.env.SOCKETIO_BROADCAST === 'adapter';
const TASK_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

const logError = (err: Error): void => console.error(`redis: ${err.message}`);
const pubClient = new Redis(redisUrl);
const subClient = pubClient.duplicate();
const updates = pubClient.duplicate();
for (const client of [pubClient, subClient, updates]) client.on('error', logError);

const httpServer = createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  maxHttpBufferSize: 4096,
  adapter: createAdapter(pubClient, subClient),
});

function taskIdOf(payload: unknown): string | undefined {
  const taskId = (payload as { task_id?: unknown } | null)?.task_id;
  return typeof taskId === 'string' && TASK_ID.test(taskId) ? taskId : undefined;
}

io.on('connection', (socket) => {
  socket.on('subscribe', async (payload: unknown) => {
    const taskId = taskIdOf(payload);
    if (!taskId) {
      socket.emit('error', { code: 'invalid_message', message: 'Invalid task_id' });
      return;
    }
    await socket.join(taskId);
    socket.emit('subscribed', { task_id: taskId, message: 'Successfully subscribed' });
  });
  socket.on('unsubscribe', async (payload: unknown) => {
    const taskId = taskIdOf(payload);
    if (!taskId) {
      socket.emit('error', { code: 'invalid_message', message: 'Invalid task_id' });
      return;
    }
    await socket.leave(taskId);
    socket.emit('unsubscribed', { task_id: taskId, message: 'Successfully unsubscribed' });
  });
});

updates.on('message', (_channel: string, payload: string) => {
  let update: unknown;
  try {
    update = JSON.parse(payload);
  } catch {
    return;
  }
  if (typeof update !== 'object' || update === null || Array.isArray(update)) return;
  const { task_id: taskId, ...data } = update as Record<string, unknown>;
  if (typeof taskId !== 'string') return;
  (throughAdapter ? io : io.local).to(taskId).emit('status_update', { task_id: taskId, data });
});

updates.subscribe(channel).then(
  () => httpServer.listen(port, host),
  (err: unknown) => {
    console.error(`subscribe failed: ${String(err)}`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => process.exit(0));
