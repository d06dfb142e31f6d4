import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from './principal.js';
import { TaskAccessPolicy } from './task-access-policy.js';

/**
 * The TaskAccessPolicy's answers as both transports take them: fail closed. A policy that throws
 * or rejects denies (and is logged), and one without `canSubscribeGroup` denies every group.
 */
@Injectable()
export class AccessVerdicts {
  private readonly logger = new Logger(AccessVerdicts.name);

  constructor(private readonly access: TaskAccessPolicy) {}

  async mayWatchTask(principal: Principal, taskId: string): Promise<boolean> {
    try {
      return (await this.access.canSubscribe(principal, taskId)) === true;
    } catch (error) {
      this.logger.warn(`TaskAccessPolicy failed for ${taskId}; denied: ${String(error)}`);
      return false;
    }
  }

  async mayWatchGroup(principal: Principal, groupId: string): Promise<boolean> {
    if (!this.access.canSubscribeGroup) return false;
    try {
      return (await this.access.canSubscribeGroup(principal, groupId)) === true;
    } catch (error) {
      this.logger.warn(`TaskAccessPolicy failed for group ${groupId}; denied: ${String(error)}`);
      return false;
    }
  }
}
