import { IsTaskId } from '../../core/is-task-id.decorator.js';

export class SubscribeTaskDto {
  @IsTaskId()
  task_id!: string;
}
