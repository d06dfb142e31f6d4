import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { publishTaskStatus, shardChannelOf, shardKeyOf } from '../../client/src/publisher.js';
import { freePort, RedisServer } from '../support/redis-server.js';
import { withTimeout } from '../support/with-timeout.js';

const WAIT_MS = 5_000;
const CLI_TIMEOUT_MS = 20_000;
const CLI = resolve('scripts', 'publish-task-status.mjs');
const PARTITIONS = 64;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * A second connection that records what is published on the channels it subscribed to (PUBLISH),
 * or on the shard channels it subscribed to (SPUBLISH).
 */
class ChannelWatcher {
  private readonly messages: { channel: string; message: string }[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(readonly connection: Redis) {
    const record = (channel: string, message: string) => {
      this.messages.push({ channel, message });
      for (const wake of this.waiters) wake();
    };
    connection.on('message', record);
    connection.on('smessage', record);
  }

  static async start(url: string, ...channels: string[]): Promise<ChannelWatcher> {
    const watcher = new ChannelWatcher(new Redis(url));
    await watcher.connection.subscribe(...channels);
    return watcher;
  }

  static async startSharded(url: string, ...shardChannels: string[]): Promise<ChannelWatcher> {
    const watcher = new ChannelWatcher(new Redis(url));
    await watcher.connection.ssubscribe(...shardChannels);
    return watcher;
  }

  /** The message with this index (0 = the first) published on any watched channel. */
  async message(index: number): Promise<{ channel: string; message: string }> {
    const existing = this.messages[index];
    if (existing) return existing;
    let wake: () => void = () => undefined;
    const arrived = new Promise<{ channel: string; message: string }>((resolveMessage) => {
      wake = () => {
        const message = this.messages[index];
        if (message) resolveMessage(message);
      };
      this.waiters.add(wake);
    });
    try {
      return await withTimeout(arrived, WAIT_MS, `published message #${index}`);
    } finally {
      this.waiters.delete(wake);
    }
  }
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with exactly this environment (plus PATH) in `cwd`, within a bound. */
async function runCli(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    const [code] = (await withTimeout(once(child, 'close'), CLI_TIMEOUT_MS, 'the CLI to exit')) as [
      number | null,
    ];
    return { code, stdout, stderr };
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}; stdout: ${stdout}; stderr: ${stderr}`);
  }
}

describe('publisher helper and CLI', () => {
  let redis: RedisServer;
  let publisher: Redis;
  let reader: Redis;
  const watchers: ChannelWatcher[] = [];
  const workDirs: string[] = [];

  before(async () => {
    redis = await RedisServer.start();
    publisher = new Redis(redis.url);
    reader = new Redis(redis.url);
  });

  after(async () => {
    for (const watcher of watchers) watcher.connection.disconnect();
    publisher?.disconnect();
    reader?.disconnect();
    for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
    await redis?.stop();
  });

  const watch = async (...channels: string[]): Promise<ChannelWatcher> => {
    const watcher = await ChannelWatcher.start(redis.url, ...channels);
    watchers.push(watcher);
    return watcher;
  };

  /** An empty working directory, so that no developer's .env is read. */
  const workDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'task-status-cli-'));
    workDirs.push(dir);
    return dir;
  };

  describe('publishTaskStatus', () => {
    it('sets the key with a TTL and publishes the exact same JSON', async () => {
      const watcher = await watch('task_status_updates');
      const result = await publishTaskStatus(
        publisher,
        {
          task_id: 'pub-1',
          status: 'processing',
          progress: 40,
          message: 'Fetching blockchain data...',
          attempt: 2,
        },
        { now: () => new Date('2030-01-02T03:04:05.678Z') },
      );

      const expected =
        '{"task_id":"pub-1","status":"processing","progress":40,' +
        '"message":"Fetching blockchain data...","attempt":2,"updated_at":"2030-01-02T03:04:05.678Z"}';
      assert.deepEqual(await watcher.message(0), {
        channel: 'task_status_updates',
        message: expected,
      });
      assert.equal(await reader.get('task:status:pub-1'), expected);
      const ttl = await reader.ttl('task:status:pub-1');
      assert.ok(ttl > 3590 && ttl <= 3600, `TTL ${ttl}`);
      assert.deepEqual(result, {
        payload: expected,
        channel: 'task_status_updates',
        key: 'task:status:pub-1',
        receivers: 1,
      });
    });

    it('uses the given channel, key prefix and TTL', async () => {
      const watcher = await watch('custom_channel');
      await publishTaskStatus(
        publisher,
        { task_id: 'pub-2', status: 'completed', progress: 100 },
        { channel: 'custom_channel', keyPrefix: 'app:state:', ttlSeconds: 120 },
      );
      const { message } = await watcher.message(0);
      assert.equal(await reader.get('app:state:pub-2'), message);
      assert.equal(await reader.exists('task:status:pub-2'), 0);
      const ttl = await reader.ttl('app:state:pub-2');
      assert.ok(ttl > 110 && ttl <= 120, `TTL ${ttl}`);
    });

    it('sends SET and PUBLISH inside one MULTI/EXEC', async () => {
      let payload = '';
      const transaction = await monitored(async () => {
        ({ payload } = await publishTaskStatus(publisher, { task_id: 'pub-3', status: 'queued' }));
      });
      assert.deepEqual(transaction, [
        ['multi'],
        ['set', 'task:status:pub-3', payload, 'EX', '3600'],
        ['publish', 'task_status_updates', payload],
        ['exec'],
      ]);
    });
  });

  /** The commands `publish` sends, as MONITOR shows them (lower-cased names, PINGs left out). */
  async function monitored(publish: () => Promise<unknown>): Promise<string[][]> {
    const origin = new Redis(redis.url);
    const monitor = await origin.monitor();
    const commands: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => commands.push(args));
    try {
      // MONITOR starts streaming asynchronously; a PING marks the point from which it does.
      await withTimeout(
        (async () => {
          while (!commands.some((c) => c[0]?.toLowerCase() === 'ping')) await reader.ping();
        })(),
        WAIT_MS,
        'MONITOR to stream',
      );
      commands.length = 0;
      await publish();
      await withTimeout(
        (async () => {
          while (!commands.some((c) => c[0]?.toLowerCase() === 'exec')) await reader.ping();
        })(),
        WAIT_MS,
        'EXEC in the MONITOR stream',
      );
      return commands
        .filter((c) => c[0]?.toLowerCase() !== 'ping')
        .map((c) => [c[0]?.toLowerCase(), ...c.slice(1)]);
    } finally {
      monitor.disconnect();
      origin.disconnect();
    }
  }

  // The sharded layout (REDIS_PUBSUB_MODE=sharded): the task's shard channel and partition key.
  describe('publishTaskStatus in sharded mode', () => {
    const SHARDED = { mode: 'sharded', partitions: PARTITIONS } as const;

    it("sets the task's partition key with a TTL and SPUBLISHes the exact same JSON on its shard channel", async () => {
      const channel = shardChannelOf('task_status_updates', 'spub-1', PARTITIONS);
      const key = shardKeyOf('task:status:', 'spub-1', PARTITIONS);
      const watcher = await ChannelWatcher.startSharded(redis.url, channel);
      watchers.push(watcher);
      const result = await publishTaskStatus(
        publisher,
        { task_id: 'spub-1', status: 'processing', progress: 40 },
        { ...SHARDED, now: () => new Date('2030-01-02T03:04:05.678Z') },
      );

      const expected =
        '{"task_id":"spub-1","status":"processing","progress":40,"updated_at":"2030-01-02T03:04:05.678Z"}';
      assert.deepEqual(await watcher.message(0), { channel, message: expected });
      assert.equal(await reader.get(key), expected);
      const ttl = await reader.ttl(key);
      assert.ok(ttl > 3590 && ttl <= 3600, `TTL ${ttl}`);
      assert.deepEqual(result, { payload: expected, channel, key, receivers: 1 });
      // Nothing of the classic layout.
      assert.equal(await reader.exists('task:status:spub-1'), 0);
    });

    it('sends SET and SPUBLISH inside one MULTI/EXEC', async () => {
      let payload = '';
      const transaction = await monitored(async () => {
        ({ payload } = await publishTaskStatus(
          publisher,
          { task_id: 'spub-2', status: 'queued' },
          SHARDED,
        ));
      });
      assert.deepEqual(transaction, [
        ['multi'],
        ['set', shardKeyOf('task:status:', 'spub-2', PARTITIONS), payload, 'EX', '3600'],
        ['spublish', shardChannelOf('task_status_updates', 'spub-2', PARTITIONS), payload],
        ['exec'],
      ]);
    });
  });

  describe('npm run publish (scripts/publish-task-status.mjs)', () => {
    before(() => {
      if (!existsSync(resolve('client', 'dist', 'publisher.js'))) {
        throw new Error('client/dist is missing: run `npm run build --prefix client` first');
      }
    });

    it('stores and publishes the documented JSON, reading REDIS_URL and the channel from the environment', async () => {
      const watcher = await watch('cli_channel');
      const result = await runCli(
        ['cli-1', 'processing', '40', 'Fetching blockchain data...'],
        { REDIS_URL: redis.url, REDIS_PUBSUB_CHANNEL: 'cli_channel' },
        workDir(),
      );
      assert.equal(result.code, 0, result.stderr);

      const { message } = await watcher.message(0);
      const parsed = JSON.parse(message) as Record<string, unknown>;
      assert.match(String(parsed.updated_at), ISO_TIME);
      assert.equal(
        message,
        '{"task_id":"cli-1","status":"processing","progress":40,' +
          `"message":"Fetching blockchain data...","updated_at":"${String(parsed.updated_at)}"}`,
      );
      assert.equal(await reader.get('task:status:cli-1'), message);
      const ttl = await reader.ttl('task:status:cli-1');
      assert.ok(ttl > 3590 && ttl <= 3600, `TTL ${ttl}`);
      assert.match(result.stdout, /to 1 subscriber\(s\); stored in task:status:cli-1/);
      assert.ok(result.stdout.includes(message));
    });

    it('reads .env in the working directory; the environment wins over it', async () => {
      const watcher = await watch('dotenv_channel');
      const dir = workDir();
      writeFileSync(
        join(dir, '.env'),
        `REDIS_URL=${redis.url}\nREDIS_PUBSUB_CHANNEL=dotenv_channel\nTASK_STATUS_KEY_PREFIX=env:file:\n`,
      );
      const result = await runCli(['cli-2', 'completed', '100'], {}, dir);
      assert.equal(result.code, 0, result.stderr);
      const { message } = await watcher.message(0);
      assert.match(
        message,
        /^\{"task_id":"cli-2","status":"completed","progress":100,"updated_at":/,
      );
      assert.equal(await reader.get('env:file:cli-2'), message);

      const overridden = await runCli(
        ['cli-3', 'completed', '100'],
        { TASK_STATUS_KEY_PREFIX: 'real:env:' },
        dir,
      );
      assert.equal(overridden.code, 0, overridden.stderr);
      assert.equal(await reader.get('real:env:cli-3'), (await watcher.message(1)).message);
    });

    it('warns in sharded mode when nothing is subscribed to the task’s shard channel', async () => {
      const channel = shardChannelOf('task_status_updates', 'cli-7', PARTITIONS);
      const result = await runCli(
        ['cli-7', 'processing', '5'],
        {
          REDIS_URL: redis.url,
          REDIS_PUBSUB_MODE: 'sharded',
          REDIS_PARTITIONS: String(PARTITIONS),
        },
        workDir(),
      );
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.stderr.includes(`nothing is subscribed to ${channel}`), result.stderr);
      assert.notEqual(await reader.get(shardKeyOf('task:status:', 'cli-7', PARTITIONS)), null);
    });

    it('warns, still succeeding, when no gateway listens on the channel', async () => {
      const result = await runCli(
        ['cli-4', 'processing', '5'],
        { REDIS_URL: redis.url, REDIS_PUBSUB_CHANNEL: 'nobody_listens' },
        workDir(),
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /nothing is subscribed to nobody_listens/);
      assert.notEqual(await reader.get('task:status:cli-4'), null);
    });

    it('exits 2 with the usage on bad arguments, touching nothing', async () => {
      const env = { REDIS_URL: redis.url };
      const cases: [string[], RegExp][] = [
        [[], /expected 3 or 4 arguments, got 0/],
        [['t', 'processing'], /expected 3 or 4 arguments, got 2/],
        [['a b', 'processing', '1'], /invalid task_id "a b"/],
        [['cli-5', 'processing', 'forty'], /progress must be a number, got "forty"/],
        [['cli-5', '', '1'], /status must not be empty/],
      ];
      for (const [args, problem] of cases) {
        const result = await runCli(args, env, workDir());
        assert.equal(result.code, 2, `${JSON.stringify(args)}: ${result.stderr}`);
        assert.match(result.stderr, problem);
        assert.match(result.stderr, /usage: npm run publish -- <task_id> <status> <progress>/);
      }
      assert.equal(await reader.exists('task:status:cli-5'), 0);
      const help = await runCli(['--help'], env, workDir());
      assert.equal(help.code, 0);
      assert.match(help.stdout, /usage: npm run publish/);
    });

    it('exits 1 with a clear message when Redis cannot be reached', async () => {
      const port = await freePort();
      const result = await runCli(
        ['cli-6', 'processing', '1'],
        { REDIS_URL: `redis://user:secret@127.0.0.1:${port}/0` },
        workDir(),
      );
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        new RegExp(`cannot connect to Redis at redis://user:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0`),
      );
      assert.doesNotMatch(result.stderr, /secret/);
    });
  });
});
