import 'reflect-metadata';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { EnvironmentVariables } from '../../src/config/environment-variables.js';
import { environmentVariableNames } from '../support/environment-variable-names.js';
import { resolveSseOptions } from '../../src/sse/sse-options.js';
import { nginxDirectives } from '../support/nginx.js';
import { useGateway } from '../support/use-gateway.js';

// Paths are relative to the repository root, where the tests run.
const K8S_DIR = resolve('deploy/k8s');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

interface Probe {
  httpGet: { path: string; port: string | number };
}

interface Container {
  name: string;
  image: string;
  ports: Array<{ name?: string; containerPort: number }>;
  env?: Array<{ name: string }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe: Probe;
  readinessProbe: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[] };
  };
}

interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    terminationGracePeriodSeconds?: number;
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
    containers: Container[];
  };
}

function loadManifests(): Manifest[] {
  const manifests: Manifest[] = [];
  for (const file of readdirSync(K8S_DIR).filter((name) => /\.ya?ml$/.test(name))) {
    for (const document of parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8'))) {
      assert.deepEqual(
        document.errors.map((error) => error.message),
        [],
        `${file} parses`,
      );
      const manifest = document.toJS() as Manifest | null;
      if (manifest) manifests.push({ ...manifest, metadata: { ...manifest.metadata } });
    }
  }
  return manifests;
}

function only<T = Manifest>(manifests: Manifest[], kind: string): T {
  const found = manifests.filter((manifest) => manifest.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as T;
}

function includesLabels(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function preStopSeconds(container: Container): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds;
  const command = preStop?.exec?.command ?? [];
  assert.equal(command[0], 'sleep', 'preStop is a sleep');
  return Number(command[1]);
}

describe('deploy/k8s manifests', () => {
  const envNames = environmentVariableNames();
  let manifests: Manifest[];
  let deployment: Manifest & {
    spec: {
      replicas: number;
      selector: { matchLabels: Record<string, string> };
      template: PodTemplate;
    };
  };
  let pod: PodTemplate;
  let container: Container;
  let configMap: Manifest;
  let secret: Manifest;
  let service: Manifest & {
    spec: {
      selector: Record<string, string>;
      ports: Array<{ name: string; port: number; targetPort: string | number }>;
    };
  };

  before(() => {
    manifests = loadManifests();
    deployment = only(manifests, 'Deployment');
    pod = deployment.spec.template;
    assert.equal(pod.spec.containers.length, 1, 'one container');
    container = pod.spec.containers[0];
    configMap = only(manifests, 'ConfigMap');
    secret = only(manifests, 'Secret');
    service = only(manifests, 'Service');
  });

  it('has each kind the service needs, and the kustomization lists every file', () => {
    const kinds = manifests.map((manifest) => manifest.kind).sort();
    assert.deepEqual(kinds, [
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Ingress',
      'Kustomization',
      'PodDisruptionBudget',
      'Secret',
      'Service',
    ]);
    const kustomization = only<{ resources: string[] }>(manifests, 'Kustomization');
    const files = readdirSync(K8S_DIR).filter((name) => name !== 'kustomization.yaml');
    assert.deepEqual([...kustomization.resources].sort(), files.sort());
  });

  it('runs 3 replicas of a non-root, read-only, unprivileged container with resources', () => {
    assert.equal(deployment.spec.replicas, 3);
    assert.ok(includesLabels(pod.metadata.labels, deployment.spec.selector.matchLabels));
    assert.equal(pod.spec.securityContext?.runAsNonRoot, true);
    assert.notEqual(pod.spec.securityContext?.runAsUser, 0);
    assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    assert.notEqual(container.securityContext?.privileged, true);
    assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL']);
    for (const resource of ['cpu', 'memory']) {
      assert.ok(container.resources?.requests?.[resource], `requests.${resource}`);
      assert.ok(container.resources?.limits?.[resource], `limits.${resource}`);
    }
  });

  it('gives the graceful shutdown its time: grace period > preStop + SHUTDOWN_TIMEOUT_MS', () => {
    const shutdownTimeoutMs = Number(
      configMap.data?.SHUTDOWN_TIMEOUT_MS ?? new EnvironmentVariables().SHUTDOWN_TIMEOUT_MS,
    );
    const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
    const preStop = preStopSeconds(container);
    assert.ok(preStop > 0, 'a preStop delay');
    assert.ok(
      grace > shutdownTimeoutMs / 1000 + preStop,
      `terminationGracePeriodSeconds ${grace} <= ${shutdownTimeoutMs / 1000} + ${preStop}`,
    );
  });

  it('names only variables the service reads, from its own ConfigMap and Secret', () => {
    const names = [
      ...Object.keys(configMap.data ?? {}),
      ...Object.keys(secret.stringData ?? {}),
      ...Object.keys(secret.data ?? {}),
      ...(container.env ?? []).map((variable) => variable.name),
    ];
    assert.ok(names.length >= 10, `${names.length} variables`);
    for (const name of names) assert.ok(envNames.has(name), `${name} is not read by the service`);
    assert.ok(secret.stringData?.REDIS_URL ?? secret.data?.REDIS_URL, 'REDIS_URL in the Secret');
    assert.equal(
      configMap.data?.REDIS_URL,
      undefined,
      'REDIS_URL (may hold a password) not in the ConfigMap',
    );
    const sources = container.envFrom ?? [];
    assert.ok(sources.some((source) => source.configMapRef?.name === configMap.metadata.name));
    assert.ok(sources.some((source) => source.secretRef?.name === secret.metadata.name));
  });

  it('wires ports: container, PORT, Service, Ingress and Prometheus annotations agree', () => {
    const port = Number(configMap.data?.PORT ?? new EnvironmentVariables().PORT);
    const http = container.ports.find((candidate) => candidate.name === 'http');
    assert.equal(http?.containerPort, port);
    for (const probe of [
      container.livenessProbe,
      container.readinessProbe,
      container.startupProbe,
    ]) {
      if (probe) assert.ok([http?.name, port].includes(probe.httpGet.port), 'probe port');
    }

    assert.ok(
      includesLabels(pod.metadata.labels, service.spec.selector),
      'Service selects the pods',
    );
    const servicePort = service.spec.ports.find((candidate) => candidate.name === 'http');
    assert.ok([http?.name, port].includes(servicePort?.targetPort ?? ''), 'Service targetPort');

    const ingress = only<
      Manifest & {
        spec: {
          rules: Array<{
            http: {
              paths: Array<{
                path: string;
                backend: { service: { name: string; port: { name?: string; number?: number } } };
              }>;
            };
          }>;
        };
      }
    >(manifests, 'Ingress');
    const paths = ingress.spec.rules.flatMap((rule) => rule.http.paths);
    const ws = paths.find((path) => path.path === '/ws');
    assert.ok(ws, 'the Ingress routes /ws');
    for (const path of paths) {
      assert.equal(path.backend.service.name, service.metadata.name);
      const backendPort = path.backend.service.port;
      assert.ok(backendPort.name === servicePort?.name || backendPort.number === servicePort?.port);
    }

    assert.equal(pod.metadata.annotations?.['prometheus.io/port'], String(port));
  });

  it('keeps idle WebSockets open through the Ingress well past the heartbeat interval', () => {
    const ingress = only(manifests, 'Ingress');
    const heartbeatSeconds =
      Number(
        configMap.data?.WS_HEARTBEAT_INTERVAL_MS ??
          new EnvironmentVariables().WS_HEARTBEAT_INTERVAL_MS,
      ) / 1000;
    for (const annotation of ['proxy-read-timeout', 'proxy-send-timeout']) {
      const value = Number(
        ingress.metadata.annotations?.[`nginx.ingress.kubernetes.io/${annotation}`],
      );
      assert.ok(value >= 2 * heartbeatSeconds, `${annotation} ${value} s`);
    }
  });

  it('routes /tasks/ to the service and keeps Server-Sent Events unbuffered and open', () => {
    const ingress = only<
      Manifest & {
        spec: { rules: Array<{ http: { paths: Array<{ path: string; pathType: string }> } }> };
      }
    >(manifests, 'Ingress');
    const paths = ingress.spec.rules.flatMap((rule) => rule.http.paths);
    assert.ok(
      paths.some((path) => path.path === '/tasks/' && path.pathType === 'Prefix'),
      'the Ingress routes /tasks/',
    );
    const annotations = ingress.metadata.annotations ?? {};
    assert.equal(annotations['nginx.ingress.kubernetes.io/proxy-buffering'], 'off');
    const heartbeatSeconds =
      Number(configMap.data?.SSE_HEARTBEAT_MS ?? resolveSseOptions().heartbeatMs) / 1000;
    assert.ok(
      Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 2 * heartbeatSeconds,
    );
  });

  it('lets disruptions and autoscaling keep pods serving', () => {
    const pdb = only<
      Manifest & {
        spec: {
          maxUnavailable?: number;
          minAvailable?: number;
          selector: { matchLabels: Record<string, string> };
        };
      }
    >(manifests, 'PodDisruptionBudget');
    assert.ok(includesLabels(pod.metadata.labels, pdb.spec.selector.matchLabels));
    const hpa = only<
      Manifest & {
        spec: {
          scaleTargetRef: { kind: string; name: string };
          minReplicas: number;
          maxReplicas: number;
        };
      }
    >(manifests, 'HorizontalPodAutoscaler');
    assert.deepEqual(
      { kind: hpa.spec.scaleTargetRef.kind, name: hpa.spec.scaleTargetRef.name },
      { kind: 'Deployment', name: deployment.metadata.name },
    );
    assert.ok(hpa.spec.minReplicas >= deployment.spec.replicas);
    assert.ok(hpa.spec.maxReplicas > hpa.spec.minReplicas);
    const available =
      hpa.spec.minReplicas -
      (pdb.spec.maxUnavailable ?? hpa.spec.minReplicas - (pdb.spec.minAvailable ?? 0));
    assert.ok(available >= 2, 'at least two pods stay during a disruption');
  });

  describe('against the running service', () => {
    const fixture = useGateway();

    it('answers 200 on the probe paths and the scrape path', async () => {
      const paths = new Set([
        container.livenessProbe.httpGet.path,
        container.readinessProbe.httpGet.path,
        container.startupProbe?.httpGet.path ?? container.livenessProbe.httpGet.path,
        pod.metadata.annotations?.['prometheus.io/path'] ?? '/metrics',
      ]);
      assert.deepEqual([...paths].sort(), ['/health/live', '/health/ready', '/metrics']);
      for (const path of paths) {
        const response = await fetch(`${fixture.httpUrl}${path}`, {
          signal: AbortSignal.timeout(5_000),
        });
        await response.body?.cancel();
        assert.equal(response.status, 200, path);
      }
    });
  });
});

describe('Dockerfile and docker-compose.yml', () => {
  const envNames = environmentVariableNames();
  const dockerfile = readFileSync(resolve('Dockerfile'), 'utf8');
  const packageJson = JSON.parse(readFileSync(resolve('package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };

  interface ComposeService {
    image?: string;
    build?: unknown;
    ports?: Array<string | { published?: string | number }>;
    expose?: string[];
    environment?: Record<string, string>;
    healthcheck?: { test: string | string[] };
    volumes?: string[];
    stop_grace_period?: string;
    depends_on?: Record<string, { condition: string }>;
    profiles?: string[];
  }
  // Merge keys (`<<: *anchor`) as Docker Compose applies them.
  const compose = parse(readFileSync(resolve('docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };

  /** The exec-form JSON array of the last instruction `name` (CMD, or HEALTHCHECK's CMD). */
  function execForm(pattern: RegExp): string[] {
    const matches = [...dockerfile.matchAll(pattern)];
    assert.ok(matches.length > 0, `${pattern} in the Dockerfile`);
    return JSON.parse(matches[matches.length - 1][1]) as string[];
  }

  it("runs the image with package.json's start script", () => {
    const cmd = execForm(/^CMD (\[.*\])$/gm);
    assert.equal(cmd.join(' '), packageJson.scripts.start);
  });

  it('builds the client package before the server, and ships its build for run time', () => {
    // The server imports @task-status/client/protocol, a link to ./client in node_modules.
    const [build, runtime] = dockerfile.split(/^FROM .* AS runtime$/m);
    const at = (stage: string, line: string) => {
      const index = stage.indexOf(line);
      assert.ok(index >= 0, `${line} in the Dockerfile`);
      return index;
    };
    assert.ok(at(build, 'COPY client/package.json') < at(build, 'RUN npm ci'));
    assert.ok(at(build, 'RUN npm run build:client') < at(build, 'RUN npm run build:server'));
    assert.ok(at(runtime, 'COPY client/package.json') < at(runtime, 'RUN npm ci --omit=dev'));
    at(runtime, 'COPY --from=build /app/client/dist ./client/dist');
    assert.equal(packageJson.scripts.build, 'npm run build:client && npm run build:server');
  });

  it('health-checks the image on /health/live', () => {
    const check = execForm(/^\s+CMD (\[.*\])$/gm).join(' ');
    assert.match(dockerfile, /^HEALTHCHECK /m);
    assert.match(check, /\/health\/live/);
    const exposed = /^EXPOSE (\d+)$/m.exec(dockerfile)?.[1];
    assert.equal(Number(exposed), new EnvironmentVariables().PORT);
  });

  it('has redis, websocket and nginx by default, each with a healthcheck where it matters', () => {
    const byDefault = Object.entries(compose.services)
      .filter(([, service]) => service.profiles === undefined)
      .map(([name]) => name);
    assert.deepEqual(byDefault.sort(), ['nginx', 'redis', 'websocket']);
    assert.ok(compose.services.redis.healthcheck, 'redis healthcheck');
    const websocket = compose.services.websocket;
    assert.ok(websocket.healthcheck, 'websocket healthcheck');
    assert.match(JSON.stringify(websocket.healthcheck.test), /\/health\/live/);
    assert.equal(websocket.depends_on?.redis?.condition, 'service_healthy');
    assert.equal(compose.services.nginx.depends_on?.websocket?.condition, 'service_healthy');
  });

  it('publishes no host port for the scalable websocket service', () => {
    const websocket = compose.services.websocket;
    assert.equal(websocket.ports, undefined);
    assert.deepEqual(websocket.expose, [String(new EnvironmentVariables().PORT)]);
    assert.ok(compose.services.nginx.ports?.length, 'nginx is the entry point');
  });

  it('passes only variables the service reads, and stops within the shutdown budget', () => {
    const websocket = compose.services.websocket;
    for (const name of Object.keys(websocket.environment ?? {})) {
      assert.ok(envNames.has(name), `${name} is not read by the service`);
    }
    const shutdownMs = Number(websocket.environment?.SHUTDOWN_TIMEOUT_MS ?? 10_000);
    const grace = /^(\d+)s$/.exec(websocket.stop_grace_period ?? '')?.[1];
    assert.ok(
      Number(grace) * 1000 > shutdownMs,
      `stop_grace_period ${websocket.stop_grace_period}`,
    );
  });

  it('mounts an nginx config that exists and proxies to the websocket service', () => {
    const mounts = compose.services.nginx.volumes ?? [];
    const config = mounts
      .map((mount) => mount.split(':')[0])
      .find((source) => source.endsWith('.conf'));
    assert.ok(config, 'an nginx .conf is mounted');
    const path = resolve(config);
    assert.ok(existsSync(path), `${config} exists`);
    const text = readFileSync(path, 'utf8');
    assert.match(text, new RegExp(`http://websocket:${new EnvironmentVariables().PORT}\\b`));
    assert.match(text, /location = \/ws/);
    assert.match(text, /proxy_set_header Upgrade \$http_upgrade/);
  });

  it('passes /tasks/ (Server-Sent Events) through nginx unbuffered, uncached and long-lived', () => {
    const text = readFileSync(resolve('deploy/nginx/nginx.conf'), 'utf8');
    const location = nginxDirectives(text, 'location /tasks/');
    assert.deepEqual(location.get('proxy_pass'), [['$gateway']]);
    assert.deepEqual(location.get('proxy_buffering'), [['off']]);
    assert.deepEqual(location.get('proxy_cache'), [['off']]);
    assert.deepEqual(location.get('gzip'), [['off']]);
    assert.deepEqual(
      location.get('proxy_set_header')?.find(([name]) => name === 'Connection'),
      ['Connection', '""'],
    );
    // Upstream keep-alive needs HTTP/1.1, set for the whole server.
    assert.deepEqual(nginxDirectives(text, 'server').get('proxy_http_version'), [['1.1']]);
    const heartbeatSeconds = resolveSseOptions().heartbeatMs / 1000;
    for (const timeout of ['proxy_read_timeout', 'proxy_send_timeout']) {
      const [[value]] = location.get(timeout) ?? [['0']];
      const seconds = value.endsWith('h')
        ? Number(value.slice(0, -1)) * 3600
        : Number(value.replace(/s$/, ''));
      assert.ok(seconds >= 2 * heartbeatSeconds, `${timeout} ${value}`);
    }
  });
});
