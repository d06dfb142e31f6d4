import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { RedisSubscriptionStatus } from './redis-subscription-status.js';

/** Up when the subscriber is connected and subscribed; returns down (503) rather than throwing. */
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
    };
    if (this.status.isUp && this.status.dataPathHealthy) return indicator.up(details);
    return indicator.down({ ...details, lastError: this.status.lastError });
  }
}
