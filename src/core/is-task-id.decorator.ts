import { applyDecorators } from '@nestjs/common';
import { TASK_ID_MAX_LENGTH, TASK_ID_PATTERN } from '@task-status/client/protocol';
import { IsString, Matches } from 'class-validator';

export const TASK_ID_RULE = `a non-empty string of at most ${TASK_ID_MAX_LENGTH} characters from [A-Za-z0-9_.:-]`;

/** The one definition of a valid task id, shared by every DTO that carries one. */
export function IsTaskId(): PropertyDecorator {
  return applyDecorators(
    IsString({ message: `task_id must be ${TASK_ID_RULE}` }),
    Matches(TASK_ID_PATTERN, { message: `task_id must be ${TASK_ID_RULE}` }),
  );
}
