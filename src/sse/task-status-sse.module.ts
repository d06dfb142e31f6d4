import { Module } from '@nestjs/common';
import { EventStreams } from './event-streams.js';
import { SSE_OPTIONS, resolveSseOptions, type SseOptions } from './sse-options.js';
import { TaskEventsController } from './task-events.controller.js';
import {
  TASK_STATUS_SSE_MODULE_OPTIONS,
  TaskStatusSseConfigurableModule,
} from './task-status-sse.module-definition.js';

/**
 * Server-Sent Events: `GET /tasks/events?task_id=…` and `GET /tasks/{task_id}/events`, under the
 * WebSocket endpoint's admission rules and fed by the same delivery path. Needs
 * TaskStatusCoreModule; works with or without TaskStatusGatewayModule.
 */
@Module({
  controllers: [TaskEventsController],
  providers: [
    {
      provide: SSE_OPTIONS,
      inject: [TASK_STATUS_SSE_MODULE_OPTIONS],
      useFactory: (options: SseOptions) => resolveSseOptions(options),
    },
    EventStreams,
  ],
  exports: [SSE_OPTIONS, EventStreams],
})
export class TaskStatusSseModule extends TaskStatusSseConfigurableModule {}
