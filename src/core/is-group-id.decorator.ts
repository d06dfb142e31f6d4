import { applyDecorators } from '@nestjs/common';
import { GROUP_ID_MAX_LENGTH, GROUP_ID_PATTERN } from '@task-status/client/protocol';
import { IsString, Matches } from 'class-validator';

export const GROUP_ID_RULE = `a non-empty string of at most ${GROUP_ID_MAX_LENGTH} characters from [A-Za-z0-9_.:-]`;

/** The one definition of a valid group id, shared by every DTO that carries one. */
export function IsGroupId(): PropertyDecorator {
  return applyDecorators(
    IsString({ message: `group must be ${GROUP_ID_RULE}` }),
    Matches(GROUP_ID_PATTERN, { message: `group must be ${GROUP_ID_RULE}` }),
  );
}
