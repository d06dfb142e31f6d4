import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { IsTaskId } from '../core/is-task-id.decorator.js';

/** Body of POST /demo/simulate; every field is optional. */
export class SimulateTaskDto {
  /** The id to publish under; a new `demo-…` id when absent. */
  @IsOptional()
  @IsTaskId()
  task_id?: string;

  /** Time between two updates of the fake task. */
  @IsOptional()
  @IsInt()
  @Min(50)
  @Max(10_000)
  step_ms?: number;
}
