import { ValidateIf } from 'class-validator';
import { IsGroupId } from '../../core/is-group-id.decorator.js';
import { IsTaskId } from '../../core/is-task-id.decorator.js';

/** Names a task (`task_id`) or a group (`group`); the gateway refuses a message with both. */
export class SubscribeTaskDto {
  // Checked unless only a group is named, so that `{}` still reports the missing task_id.
  @ValidateIf(
    (message: SubscribeTaskDto) => message.group === undefined || message.task_id !== undefined,
  )
  @IsTaskId()
  task_id?: string;

  @ValidateIf((message: SubscribeTaskDto) => message.group !== undefined)
  @IsGroupId()
  group?: string;
}
