#!/usr/bin/env node
// `npm run publish -- <task_id> <status> <progress> [message]`: stores and publishes one task
// update the way backends do (client/src/publisher.ts), to test a gateway by hand. Reads REDIS_URL,
// REDIS_PUBSUB_CHANNEL, REDIS_PUBSUB_MODE, REDIS_PARTITIONS and TASK_STATUS_KEY_PREFIX from the
// environment, then .env, like the service.
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import { Redis } from 'ioredis';

const USAGE = `usage: npm run publish -- <task_id> <status> <progress> [message]

  task_id   1-128 characters from [A-Za-z0-9_.:-]
  status    e.g. processing, completed, failed
  progress  a number, e.g. 40
  message   optional text

Sets task:status:<task_id> (TTL 3600 s) and publishes on the channel, in one MULTI/EXEC.
With REDIS_PUBSUB_MODE=sharded: sets task:status:{p}:<task_id> and SPUBLISHes on
<channel>:{p}:<task_id>, p = CRC-32(task_id) mod REDIS_PARTITIONS, in one MULTI/EXEC.
With REDIS_PUBSUB_MODE=both (publishers only, while gateways move from channel to sharded; a
standalone Redis): both keys, PUBLISH and SPUBLISH, in one MULTI/EXEC.
Environment (or .env): REDIS_URL (default redis://localhost:6379/0),
REDIS_PUBSUB_CHANNEL (default task_status_updates), REDIS_PUBSUB_MODE (channel, sharded or
both; default channel), REDIS_PARTITIONS (default 1024), TASK_STATUS_KEY_PREFIX (default task:status:;
empty: publish only).`;

const CONNECT_TIMEOUT_MS = 5_000;

function usageError(problem) {
  console.error(`error: ${problem}\n\n${USAGE}`);
  process.exit(2);
}

/** The service's rule: the real environment wins over .env; an empty value means the default. */
function settings() {
  const fromFile = existsSync('.env') ? parse(readFileSync('.env')) : {};
  const env = { ...fromFile, ...process.env };
  const value = (name, fallback) => (env[name] ? env[name] : fallback);
  return {
    redisUrl: value('REDIS_URL', 'redis://localhost:6379/0'),
    channel: value('REDIS_PUBSUB_CHANNEL', 'task_status_updates'),
    mode: value('REDIS_PUBSUB_MODE', 'channel').trim().toLowerCase(),
    partitionsText: value('REDIS_PARTITIONS', '1024'),
    // As in the service, an empty prefix is a value: no state key.
    keyPrefix: env.TASK_STATUS_KEY_PREFIX ?? 'task:status:',
  };
}

/** The URL without its password, for messages. */
function redactedUrl(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

async function loadPublisher() {
  const path = new URL('../client/dist/publisher.js', import.meta.url);
  if (!existsSync(path)) {
    console.error(
      'error: client/dist is missing; build the client first: npm run build --prefix client',
    );
    process.exit(1);
  }
  return import(path.href);
}

const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}
if (args.length < 3 || args.length > 4) {
  usageError(`expected 3 or 4 arguments, got ${args.length}`);
}
const [taskId, status, progressText, message] = args;
const { TASK_ID_PATTERN, publishTaskStatus } = await loadPublisher();
if (!TASK_ID_PATTERN.test(taskId)) {
  usageError(`invalid task_id ${JSON.stringify(taskId)}: 1-128 characters from [A-Za-z0-9_.:-]`);
}
if (status.trim() === '') usageError('status must not be empty');
const progress = Number(progressText);
if (progressText.trim() === '' || !Number.isFinite(progress)) {
  usageError(`progress must be a number, got ${JSON.stringify(progressText)}`);
}

const { redisUrl, channel, mode, partitionsText, keyPrefix } = settings();
if (mode !== 'channel' && mode !== 'sharded' && mode !== 'both') {
  usageError(`REDIS_PUBSUB_MODE must be channel, sharded or both, got ${JSON.stringify(mode)}`);
}
const partitions = Number(partitionsText);
if (!Number.isInteger(partitions) || partitions < 1 || partitions > 16384) {
  usageError(
    `REDIS_PARTITIONS must be an integer from 1 to 16384, got ${JSON.stringify(partitionsText)}`,
  );
}
const redis = new Redis(redisUrl, {
  lazyConnect: true,
  connectTimeout: CONNECT_TIMEOUT_MS,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null,
});
redis.on('error', () => undefined); // reported below, once
try {
  await redis.connect();
} catch (error) {
  console.error(`error: cannot connect to Redis at ${redactedUrl(redisUrl)}: ${error.message}`);
  redis.disconnect();
  process.exit(1);
}

try {
  const result = await publishTaskStatus(
    redis,
    { task_id: taskId, status, progress, message },
    { channel, keyPrefix, mode, partitions },
  );
  const layouts = result.shard ? [result, result.shard] : [result];
  for (const layout of layouts) {
    const stored = layout.key
      ? `stored in ${layout.key} (TTL 3600 s)`
      : 'no state key (empty prefix)';
    console.log(
      `published on ${layout.channel} at ${redactedUrl(redisUrl)} to ${layout.receivers} subscriber(s); ${stored}`,
    );
  }
  console.log(result.payload);
  if (mode === 'both' && result.receivers + result.shard.receivers === 0) {
    console.error(
      'warning: no gateway received the update on either layout (a sharded gateway subscribes only ' +
        'while a client watches the task; check REDIS_URL, REDIS_PUBSUB_CHANNEL and REDIS_PARTITIONS)',
    );
  } else if (mode !== 'both' && result.receivers === 0) {
    console.error(
      `warning: nothing is subscribed to ${result.channel} on this Redis: no gateway received the update ` +
        (mode === 'sharded'
          ? '(in sharded mode a gateway subscribes only while a client watches the task; check ' +
            'REDIS_URL, REDIS_PUBSUB_CHANNEL and REDIS_PARTITIONS against the gateway)'
          : '(check REDIS_URL and REDIS_PUBSUB_CHANNEL against GET /ws/stats of the gateway)'),
    );
  }
  await redis.quit();
} catch (error) {
  console.error(`error: publishing failed: ${error.message}`);
  redis.disconnect();
  process.exit(1);
}
