import type { EnvironmentVariables } from './environment-variables.js';

/** Rules across the REDIS_* variables, once each is valid on its own. */
export function redisEnvironmentProblems(env: EnvironmentVariables): string[] {
  const clusterNodes = env.REDIS_CLUSTER_NODES ?? [];
  if (clusterNodes.length > 0 && env.REDIS_PUBSUB_MODE !== 'sharded') {
    // Classic PUBLISH on a cluster is broadcast to every node: the one layout that does not scale.
    return [
      `REDIS_CLUSTER_NODES is set, so REDIS_PUBSUB_MODE must be "sharded" (is "${env.REDIS_PUBSUB_MODE ?? 'channel'}")`,
    ];
  }
  return [];
}
