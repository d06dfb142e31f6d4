import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { RedisCommandClient } from '../redis/redis-command-client.js';
import {
  TASK_STATE_OPTIONS,
  type ResolvedTaskStateOptions,
} from '../outbound/task-state-options.js';
import { TaskChannelLayout } from '../redis/task-channel-layout.js';

/** The fake task's states, published one per step. */
const STEPS = [
  { status: 'queued', progress: 0, message: 'Waiting for a worker' },
  { status: 'processing', progress: 10, message: 'Fetching input data…' },
  { status: 'processing', progress: 30, message: 'Validating records…' },
  { status: 'processing', progress: 55, message: 'Crunching numbers…' },
  { status: 'processing', progress: 80, message: 'Writing results…' },
  { status: 'processing', progress: 95, message: 'Cleaning up…' },
  { status: 'completed', progress: 100, message: 'Done' },
] as const;

export const DEFAULT_STEP_MS = 700;
/** Fake tasks running at once, per instance: a button pressed in a loop stays harmless. */
export const MAX_RUNNING_SIMULATIONS = 20;
/** How long the stored state is kept, as publishers are told to do. */
const STATE_TTL_SECONDS = 3600;

export interface SimulationStarted {
  task_id: string;
  steps: number;
  step_ms: number;
}

export class TooManySimulationsError extends Error {}

interface Simulation {
  taskId: string;
  stepMs: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Plays a short fake task the way a worker would publish it: for each step, the state stored
 * under the snapshot key and published on the channel in one MULTI/EXEC, through the gateway's
 * Redis command connection. Development only: the endpoint that starts it is off by default.
 */
@Injectable()
export class DemoTaskSimulator implements OnModuleDestroy {
  private readonly simulations = new Set<Simulation>();
  private stopped = false;

  constructor(
    @Inject(TASK_STATE_OPTIONS) private readonly taskState: ResolvedTaskStateOptions,
    private readonly layout: TaskChannelLayout,
    private readonly redis: RedisCommandClient,
  ) {}

  get runningCount(): number {
    return this.simulations.size;
  }

  /** Publishes the first state (rejecting when Redis refuses it), then the rest on a timer. */
  async start({
    taskId = `demo-${randomUUID().slice(0, 8)}`,
    stepMs = DEFAULT_STEP_MS,
  }: { taskId?: string; stepMs?: number } = {}): Promise<SimulationStarted> {
    if (this.stopped || this.simulations.size >= MAX_RUNNING_SIMULATIONS) {
      throw new TooManySimulationsError();
    }
    const simulation: Simulation = { taskId, stepMs, timer: undefined };
    this.simulations.add(simulation);
    try {
      await this.publish(taskId, 0);
    } catch (error) {
      this.simulations.delete(simulation);
      throw error;
    }
    this.schedule(simulation, 1);
    return { task_id: taskId, steps: STEPS.length, step_ms: stepMs };
  }

  onModuleDestroy(): void {
    this.stopped = true;
    for (const simulation of this.simulations) clearTimeout(simulation.timer);
    this.simulations.clear();
  }

  private schedule(simulation: Simulation, step: number): void {
    if (this.stopped || step >= STEPS.length) {
      this.simulations.delete(simulation);
      return;
    }
    simulation.timer = setTimeout(() => {
      this.publish(simulation.taskId, step).then(
        () => this.schedule(simulation, step + 1),
        // Redis went away: the fake task just stops.
        () => this.simulations.delete(simulation),
      );
    }, simulation.stepMs);
    simulation.timer.unref();
  }

  private async publish(taskId: string, step: number): Promise<void> {
    const { status, progress, message } = STEPS[step];
    const json = JSON.stringify({
      task_id: taskId,
      status,
      progress,
      message,
      version: step + 1,
      updated_at: new Date().toISOString(),
      simulated: true,
    });
    const transaction = this.redis.connection.multi();
    if (this.taskState.snapshotKeyPrefix !== '') {
      transaction.set(
        this.layout.keyOf(this.taskState.snapshotKeyPrefix, taskId),
        json,
        'EX',
        STATE_TTL_SECONDS,
      );
    }
    // In sharded mode the key and the shard channel share a slot, so one MULTI holds both.
    const channel = this.layout.channelOf(taskId);
    if (this.layout.sharded) transaction.spublish(channel, json);
    else transaction.publish(channel, json);
    const replies = await transaction.exec();
    const failed = replies?.find(([error]) => error !== null)?.[0];
    if (failed) throw failed;
  }
}
