import type { Principal } from './principal.js';

/**
 * Decides whether a principal may subscribe to a task; consulted on every `subscribe` while
 * authentication is on, and again for each held subscription when a connection replaces its
 * token. Also the injection token: replace the default (ClaimTaskAccessPolicy) through the
 * module's `taskAccessPolicy` option. May be asynchronous (an ownership lookup, say); a rejection
 * counts as a denial.
 */
export abstract class TaskAccessPolicy {
  abstract canSubscribe(principal: Principal, taskId: string): boolean | Promise<boolean>;

  /**
   * Whether the principal may subscribe to a group (every task whose updates name it). Optional,
   * so that policies written before groups existed keep compiling: a policy without it denies
   * every group (fail closed).
   */
  canSubscribeGroup?(principal: Principal, groupId: string): boolean | Promise<boolean>;
}
