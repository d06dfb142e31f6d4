import { Controller, Get, Header, Res, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiProduces,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { StatsAccessGuard } from '../auth/stats-access.guard.js';
import { GatewayMetrics } from './gateway-metrics.js';

@ApiTags('metrics')
@Controller('metrics')
// Same credentials as /ws/stats when authentication or STATS_TOKEN is configured.
@UseGuards(StatsAccessGuard)
@ApiBearerAuth()
@ApiUnauthorizedResponse({
  description: 'Auth or STATS_TOKEN is configured and no valid Bearer credential was sent.',
})
@ApiForbiddenResponse({ description: 'A valid JWT without the admin claim (`AUTH_ADMIN_CLAIM`).' })
export class MetricsController {
  constructor(private readonly metrics: GatewayMetrics) {}

  /** Prometheus scrape endpoint; answers as an unknown route would while metrics are off. */
  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description:
      'Prometheus text exposition format (version 0.0.4): Node process metrics and the `task_status_gateway_*` metrics of docs/operations.md.',
    schema: { type: 'string' },
  })
  async scrape(@Res({ passthrough: true }) response: Response): Promise<string> {
    const body = await this.metrics.render();
    response.type(this.metrics.contentType);
    return body;
  }
}
