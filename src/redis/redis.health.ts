import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { RedisSubscriptionStatus } from './redis-subscription-status.js';

/**
 * Up when the subscriber is connected and subscribed; returns down (503) rather than throwing.
 * On a Redis Cluster the details carry each primary's state (`nodes`), and the check is down
 * while any primary that holds a channel of this instance is not subscribed or its canary is
 * overdue.
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly status: RedisSubscriptionStatus,
  ) {}

  isHealthy(key = 'redis') {
    const indicator = this.healthIndicatorService.check(key);
    const details = {
      state: this.status.state,
      since: new Date(this.status.stateSince).toISOString(),
      dataPath: this.status.dataPathHealthy ? 'ok' : 'stalled',
      canaryRoundTripMs: this.status.canaryRoundTripMs ?? null,
      ...(this.status.nodes.size > 0 ? { nodes: this.nodeDetails() } : {}),
    };
    if (this.status.isUp && this.status.dataPathHealthy && this.status.nodesHealthy) {
      return indicator.up(details);
    }
    return indicator.down({ ...details, lastError: this.status.lastError });
  }

  private nodeDetails() {
    const nodes: Record<
      string,
      { state: string; dataPath: 'ok' | 'stalled'; canaryRoundTripMs: number | null }
    > = {};
    for (const [node, status] of [...this.status.nodes].sort(([a], [b]) => a.localeCompare(b))) {
      nodes[node] = {
        state: status.state,
        dataPath: status.dataPathHealthy ? 'ok' : 'stalled',
        canaryRoundTripMs: status.canaryRoundTripMs ?? null,
      };
    }
    return nodes;
  }
}
