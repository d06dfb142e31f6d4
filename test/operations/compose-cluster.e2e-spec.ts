import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { environmentVariableNames } from '../support/environment-variable-names.js';
import { freePort, spawnRedisServer, stopRedisProcess } from '../support/redis-process.js';

/**
 * The `cluster` profile of docker-compose.yml (no Docker engine runs in the tests): its shape,
 * and a Redis node started with the very command line the profile gives its containers.
 */
interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  profiles?: string[];
  ports?: string[];
  volumes?: string[];
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
  hostname?: string;
  stop_grace_period?: string;
  healthcheck?: { test: string[] };
}

const compose = parse(readFileSync(resolve('docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;
const inProfile = Object.entries(services)
  .filter(([, service]) => service.profiles?.includes('cluster'))
  .map(([name]) => name);
const redisNodes = inProfile.filter((name) => name.startsWith('redis-node-'));
const NGINX_CONF = resolve('deploy/nginx/nginx.conf');

describe('docker-compose.yml: the cluster profile', () => {
  it('holds six Redis Cluster nodes, the init job and the sharded gateways, and nothing else', () => {
    assert.equal(redisNodes.length, 6);
    assert.deepEqual(inProfile.filter((name) => !redisNodes.includes(name)).sort(), [
      'redis-cluster-init',
      'websocket-cluster',
    ]);
    for (const name of redisNodes) {
      const command = services[name].command ?? [];
      const flag = (option: string) => command[command.indexOf(option) + 1];
      assert.equal(flag('--cluster-enabled'), 'yes', name);
      // Announced by name, so a container that comes back with a new address is found again.
      assert.equal(flag('--cluster-announce-hostname'), services[name].hostname, name);
      assert.equal(flag('--cluster-preferred-endpoint-type'), 'hostname', name);
      assert.ok(services[name].healthcheck, `${name} healthcheck`);
    }
  });

  it('forms 3 primaries with a replica each, once every node answers', () => {
    const init = services['redis-cluster-init'];
    const script = (init.command ?? []).join(' ');
    for (const name of redisNodes) assert.match(script, new RegExp(`\\b${name}:6379\\b`));
    assert.match(script, /--cluster create/);
    assert.match(script, /--cluster-replicas 1/);
    assert.match(script, /--cluster-yes/);
    // A second `up` finds the cluster formed and must not fail on `--cluster create`.
    assert.match(script, /cluster_state:ok.*\|\|/);
    for (const name of redisNodes) {
      assert.equal(init.depends_on?.[name]?.condition, 'service_healthy', name);
    }
  });

  it('runs three gateways in the sharded mode, seeded with primaries of the profile', () => {
    const gateway = services['websocket-cluster'];
    const environment = gateway.environment ?? {};
    const names = environmentVariableNames();
    for (const name of Object.keys(environment)) assert.ok(names.has(name), `${name} is read`);
    assert.equal(environment.REDIS_PUBSUB_MODE, 'sharded');
    const seeds = environment.REDIS_CLUSTER_NODES.split(',');
    assert.ok(seeds.length >= 1);
    for (const seed of seeds) {
      assert.ok(redisNodes.includes(seed.split(':')[0]), `${seed} is a node of the profile`);
    }
    assert.equal(gateway.deploy?.replicas, 3);
    assert.equal(
      gateway.depends_on?.['redis-cluster-init']?.condition,
      'service_completed_successfully',
    );
    const shutdownMs = Number(environment.SHUTDOWN_TIMEOUT_MS ?? 10_000);
    const grace = Number(/^(\d+)s$/.exec(gateway.stop_grace_period ?? '')?.[1]);
    assert.ok(grace * 1000 > shutdownMs, `stop_grace_period ${gateway.stop_grace_period}`);
    assert.match(JSON.stringify(gateway.healthcheck?.test), /\/health\/live/);
  });

  it('serves the cluster gateways through the same nginx on a second port', () => {
    const ports = services.nginx.ports ?? [];
    assert.ok(ports.includes('8001:80'), 'default gateways on 8001');
    assert.ok(ports.includes('8002:81'), 'cluster gateways on 8002');
    const config = readFileSync(NGINX_CONF, 'utf8');
    assert.match(config, /listen 81;/);
    assert.match(config, /81\s+http:\/\/websocket-cluster:8001;/);
    assert.match(config, /default\s+http:\/\/websocket:8001;/);
  });

  const nginx = spawnSync('nginx', ['-v']).error === undefined;
  it('has an nginx config that nginx accepts', { skip: !nginx && 'nginx is not installed' }, () => {
    const result = spawnSync('nginx', ['-t', '-c', NGINX_CONF], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /syntax is ok/);
  });

  describe('a node started with the profile command line', () => {
    let node: ChildProcess | undefined;
    let dir: string | undefined;
    after(async () => {
      await stopRedisProcess(node);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('is a cluster node that announces its hostname', async () => {
      const [program, ...args] = services['redis-node-1'].command ?? [];
      assert.equal(program, 'redis-server');
      dir = await mkdtemp(join(tmpdir(), 'compose-cluster-node-'));
      const port = await freePort();
      // The profile's flags, then only where this test's node may write and listen.
      node = await spawnRedisServer(port, [...args, '--dir', dir, '--port', String(port)]);
      const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
        assert.match(String(await redis.call('CLUSTER', 'INFO')), /^cluster_state:/m);
        assert.deepEqual(await redis.call('CONFIG', 'GET', 'cluster-announce-hostname'), [
          'cluster-announce-hostname',
          'redis-node-1',
        ]);
        assert.deepEqual(await redis.call('CONFIG', 'GET', 'cluster-preferred-endpoint-type'), [
          'cluster-preferred-endpoint-type',
          'hostname',
        ]);
      } finally {
        redis.disconnect();
      }
    });
  });
});
