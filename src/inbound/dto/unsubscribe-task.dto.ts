import { IsTaskId } from '../../core/is-task-id.decorator.js';

export class UnsubscribeTaskDto {
  @IsTaskId()
  task_id!: string;
}
