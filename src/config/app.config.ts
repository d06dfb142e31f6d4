import { hostname } from 'node:os';
import { registerAs } from '@nestjs/config';
import { parseEnvironment } from './parse-environment.js';

export const appConfig = registerAs('app', () => {
  const env = parseEnvironment(process.env);
  return {
    port: env.PORT,
    host: env.HOST,
    corsOrigins: env.CORS_ORIGINS,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    drainWindowMs: env.SHUTDOWN_DRAIN_WINDOW_MS,
    instanceId: env.INSTANCE_ID ?? `${hostname()}-${process.pid}`,
    metricsEnabled: env.METRICS_ENABLED,
    apiDocsEnabled: env.API_DOCS_ENABLED,
    demoPage: env.DEMO_PAGE,
    demoPublishEnabled: env.DEMO_PUBLISH_ENABLED,
    clusterHeartbeatIntervalMs: env.CLUSTER_HEARTBEAT_INTERVAL_MS,
  };
});
