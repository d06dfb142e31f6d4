import { registerAs } from '@nestjs/config';
import type { ClusterOptions } from '../cluster/cluster-options.js';
import { environment } from './environment.js';

export const clusterConfig = registerAs('cluster', (): ClusterOptions => ({
  heartbeatIntervalMs: environment().CLUSTER_HEARTBEAT_INTERVAL_MS,
}));
