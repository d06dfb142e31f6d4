import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { WebSocket } from 'ws';
import { ConnectionAdmission } from '../connections/connection-admission.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';

/** Reports open connections; down once the instance stops admitting them (shutdown). */
@Injectable()
export class ConnectionsHealthIndicator {
  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly registry: ConnectionRegistry<WebSocket>,
    private readonly admission: ConnectionAdmission,
  ) {}

  isHealthy(key = 'connections') {
    const indicator = this.healthIndicatorService.check(key);
    const details = { active: this.registry.connectionCount, accepting: this.admission.accepting };
    return this.admission.accepting
      ? indicator.up(details)
      : indicator.down({ ...details, reason: 'shutting down' });
  }
}
