import {
  BadRequestException,
  Body,
  Controller,
  HttpCode,
  HttpException,
  HttpStatus,
  Inject,
  NotFoundException,
  Post,
  ServiceUnavailableException,
  ValidationPipe,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { CANARY_TASK_PREFIX } from '../outbound/data-path-canary.js';
import { DEMO_OPTIONS, type ResolvedDemoOptions } from './demo-options.js';
import {
  DemoTaskSimulator,
  MAX_RUNNING_SIMULATIONS,
  TooManySimulationsError,
  type SimulationStarted,
} from './demo-task-simulator.js';
import { SimulateTaskDto } from './simulate-task.dto.js';

/**
 * `POST /demo/simulate`: starts a short fake task, published to Redis like a worker would.
 * A development aid behind DEMO_PUBLISH_ENABLED (default false): anyone who can reach the port
 * could otherwise publish updates, so production leaves it off and it answers 404.
 */
@ApiExcludeController()
@Controller('demo')
export class DemoSimulationController {
  constructor(
    @Inject(DEMO_OPTIONS) private readonly options: ResolvedDemoOptions,
    private readonly simulator: DemoTaskSimulator,
  ) {}

  @Post('simulate')
  @HttpCode(HttpStatus.ACCEPTED)
  async simulate(
    @Body(new ValidationPipe({ whitelist: true, transform: true })) body: SimulateTaskDto,
  ): Promise<SimulationStarted> {
    if (!this.options.publishEnabled) {
      throw new NotFoundException('Cannot POST /demo/simulate');
    }
    if (body.task_id?.startsWith(CANARY_TASK_PREFIX)) {
      throw new BadRequestException(`task_id must not start with ${CANARY_TASK_PREFIX}`);
    }
    try {
      return await this.simulator.start({ taskId: body.task_id, stepMs: body.step_ms });
    } catch (error) {
      if (error instanceof TooManySimulationsError) {
        throw new HttpException(
          `At most ${MAX_RUNNING_SIMULATIONS} simulated tasks run at once; try again shortly`,
          HttpStatus.TOO_MANY_REQUESTS,
        );
      }
      throw new ServiceUnavailableException(
        `Redis refused the update: ${(error as Error).message}`,
      );
    }
  }
}
