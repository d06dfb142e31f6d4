import { Inject, Injectable } from '@nestjs/common';
import { AUTH_OPTIONS, type ResolvedAuthOptions } from './auth-options.js';
import type { Principal } from './principal.js';
import { TaskAccessPolicy } from './task-access-policy.js';

/**
 * The default policy: the token's tasks claim (`AUTH_TASKS_CLAIM`, default `tasks`) lists what it
 * may watch, as an array of strings or one space-separated string. An entry is a task id, matched
 * exactly, or a prefix pattern ending in `*`: `org-42:*` matches every id that starts with
 * `org-42:`, and `*` alone matches every task. No claim, or an empty one, allows nothing.
 * Groups the same way, from the groups claim (`AUTH_GROUPS_CLAIM`, default `groups`).
 */
@Injectable()
export class ClaimTaskAccessPolicy extends TaskAccessPolicy {
  constructor(@Inject(AUTH_OPTIONS) private readonly options: ResolvedAuthOptions) {
    super();
  }

  canSubscribe(principal: Principal, taskId: string): boolean {
    return taskPatternsOf(principal.claims[this.options.tasksClaim]).some((pattern) =>
      matchesTaskPattern(pattern, taskId),
    );
  }

  override canSubscribeGroup(principal: Principal, groupId: string): boolean {
    return taskPatternsOf(principal.claims[this.options.groupsClaim]).some((pattern) =>
      matchesTaskPattern(pattern, groupId),
    );
  }
}

/** The entries of a tasks claim; anything that is not a string or an array of strings is none. */
export function taskPatternsOf(claim: unknown): string[] {
  if (typeof claim === 'string') return claim.split(/\s+/).filter((entry) => entry !== '');
  if (Array.isArray(claim)) {
    return claim.filter((entry): entry is string => typeof entry === 'string' && entry !== '');
  }
  return [];
}

/** Only a trailing `*` is a wildcard (task ids cannot contain `*`, so one elsewhere never matches). */
export function matchesTaskPattern(pattern: string, taskId: string): boolean {
  return pattern.endsWith('*') ? taskId.startsWith(pattern.slice(0, -1)) : pattern === taskId;
}
