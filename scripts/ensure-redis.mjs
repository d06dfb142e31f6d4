#!/usr/bin/env node
// `make dev` helper: makes sure a Redis answers at REDIS_URL. When none does and the URL points at
// this machine, starts a throwaway redis-server (nothing kept on disk) if one is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';

function redisUrl() {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  if (existsSync('.env')) {
    const line = readFileSync('.env', 'utf8')
      .split('\n')
      .find((l) => /^\s*REDIS_URL\s*=/.test(l));
    if (line) return line.split('=').slice(1).join('=').trim().replace(/^["']|["']$/g, '');
  }
  return 'redis://localhost:6379/0';
}

function ping(host, port) {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => socket.write('PING\r\n'));
    // +PONG, or -NOAUTH from a Redis that wants a password: either way a Redis answers.
    socket.once('data', (data) => done(/^[+-]/.test(data.toString())));
  });
}

const url = new URL(redisUrl());
const host = url.hostname.replace(/^\[|\]$/g, '') || 'localhost';
const port = Number(url.port || 6379);

if (url.protocol === 'rediss:' || (await ping(host, port))) {
  console.log(`Redis: using ${url.protocol}//${host}:${port}`);
  process.exit(0);
}
if (!['localhost', '127.0.0.1', '::1'].includes(host)) {
  console.error(`Redis: nothing answers at ${host}:${port}; check REDIS_URL.`);
  process.exit(1);
}
if (spawnSync('redis-server', ['--version']).error) {
  console.error(
    `Redis: nothing answers at ${host}:${port} and redis-server is not installed.\n` +
      '  Install it with: sudo apt-get install -y redis-server   (or point REDIS_URL at a Redis)',
  );
  process.exit(1);
}
const started = spawnSync(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--logfile', '/tmp/task-status-gateway-redis.log'],
  { stdio: 'inherit' },
);
if (started.status !== 0) process.exit(started.status ?? 1);
for (let i = 0; i < 50 && !(await ping(host, port)); i += 1) await new Promise((r) => setTimeout(r, 100));
console.log(
  `Redis: started a development redis-server on 127.0.0.1:${port} (stop it with: redis-cli -p ${port} shutdown nosave)`,
);
