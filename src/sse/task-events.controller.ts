import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiForbiddenResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { EventStreams } from './event-streams.js';

const STREAM_DESCRIPTION =
  'A `text/event-stream` of the tasks\' updates (docs/protocol.md, "Server-Sent Events"): per task ' +
  'an `event: subscribed`, then its stored state, then every live update as `event: status_update` ' +
  'with `id: <task_id>:<position>` and the WebSocket `status_update` JSON as `data:`. Denied and ' +
  'over-limit tasks get an `event: error` with the WebSocket error JSON; `:` lines are heartbeats.';

const EXAMPLE =
  'event: subscribed\ndata: {"type":"subscribed","task_id":"task-1","message":"Successfully subscribed"}\n\n' +
  'event: status_update\nid: task-1:v7\ndata: {"type":"status_update","task_id":"task-1","data":{"status":"running","progress":40,"version":7},"snapshot":true}\n\n';

/**
 * The Server-Sent Events endpoints; EventStreams does the work. `@Res()` hands the raw response
 * over: a stream is written for as long as it lasts, not returned once.
 */
@ApiTags('events')
@Controller('tasks')
@ApiProduces('text/event-stream')
@ApiHeader({
  name: 'Last-Event-ID',
  required: false,
  description:
    'Resume: the id of the last event seen (an EventSource sends it when it reconnects), or several joined by commas; a task named in it gets its stored state only if newer.',
})
@ApiOkResponse({
  description: STREAM_DESCRIPTION,
  content: { 'text/event-stream': { schema: { type: 'string', example: EXAMPLE } } },
})
@ApiBadRequestResponse({
  description: 'Neither a task nor a group, or a task or group id that is not valid.',
})
@ApiUnauthorizedResponse({
  description: 'Authentication is on and the token is missing or invalid.',
})
@ApiForbiddenResponse({ description: "The request's Origin is not allowed." })
@ApiTooManyRequestsResponse({ description: 'Too many connections from this address.' })
@ApiServiceUnavailableResponse({
  description: 'Connection limit reached, shutting down, or the key set is unavailable.',
})
export class TaskEventsController {
  constructor(private readonly streams: EventStreams) {}

  @Get('events')
  @ApiOperation({
    summary: 'Stream the updates of one or more tasks and groups (Server-Sent Events)',
  })
  @ApiQuery({
    name: 'task_id',
    required: false,
    isArray: true,
    type: String,
    description: 'Repeatable; at least one task_id or group.',
  })
  @ApiQuery({
    name: 'group',
    required: false,
    isArray: true,
    type: String,
    description: 'Repeatable: every task whose updates name the group (docs/protocol.md#groups).',
  })
  @ApiQuery({ name: 'last_event_id', required: false, description: 'As Last-Event-ID.' })
  @ApiQuery({
    name: 'token',
    required: false,
    description: 'The JWT, for clients that cannot set Authorization (EventSource).',
  })
  streamTasks(@Req() request: Request, @Res() response: Response): void {
    this.streams.open(request, response);
  }

  @Get(':task_id/events')
  @ApiOperation({ summary: 'Stream the updates of one task (Server-Sent Events)' })
  @ApiParam({ name: 'task_id' })
  @ApiQuery({ name: 'last_event_id', required: false, description: 'As Last-Event-ID.' })
  @ApiQuery({ name: 'token', required: false, description: 'As for /tasks/events.' })
  streamTask(
    @Param('task_id') taskId: string,
    @Req() request: Request,
    @Res() response: Response,
  ): void {
    this.streams.open(request, response, taskId);
  }
}
