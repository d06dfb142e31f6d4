import { Inject, Module } from '@nestjs/common';
import { ReportedLimits } from '../core/reported-limits.js';
import { RATE_LIMIT_CLOCK } from '../rate-limit/rate-limit-clock.js';
import { ConnectionHeartbeat } from './connection-heartbeat.js';
import {
  GATEWAY_OPTIONS,
  resolveGatewayOptions,
  type GatewayOptions,
  type ResolvedGatewayOptions,
} from './gateway-options.js';
import {
  TASK_STATUS_GATEWAY_MODULE_OPTIONS,
  TaskStatusGatewayConfigurableModule,
} from './task-status-gateway.module-definition.js';
import { TaskStatusGateway } from './task-status.gateway.js';
import { InboundRouter } from './inbound-router.js';

/**
 * The WebSocket endpoint `/ws`: the gateway's protocol (subscribe, unsubscribe, ping, auth), its
 * heartbeat and its shutdown drain. Needs TaskStatusCoreModule, and TaskStatusWsAdapter on the
 * application (configureApplication) for its admission rules, limits and routing.
 */
@Module({
  providers: [
    {
      provide: GATEWAY_OPTIONS,
      inject: [TASK_STATUS_GATEWAY_MODULE_OPTIONS],
      useFactory: (options: GatewayOptions) => resolveGatewayOptions(options),
    },
    { provide: RATE_LIMIT_CLOCK, useValue: () => performance.now() },
    InboundRouter,
    ConnectionHeartbeat,
    TaskStatusGateway,
  ],
  exports: [GATEWAY_OPTIONS, InboundRouter],
})
export class TaskStatusGatewayModule extends TaskStatusGatewayConfigurableModule {
  constructor(limits: ReportedLimits, @Inject(GATEWAY_OPTIONS) options: ResolvedGatewayOptions) {
    super();
    limits.set('max_message_bytes', options.maxMessageBytes);
    limits.set('rate_limit_per_second', options.rateLimitPerSecond);
    limits.set('rate_limit_burst', options.rateLimitBurst);
  }
}
