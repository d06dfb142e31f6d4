import type { RedisTransactionLike } from '@task-status/client/publisher';
import type { ExecReplies } from './resp-connection.js';

/** The `multi()` the publisher helper writes into; exec() hands its commands to `execute`. */
export class RespTransaction implements RedisTransactionLike {
  private readonly commands: string[][] = [];

  constructor(private readonly execute: (commands: string[][]) => Promise<ExecReplies | null>) {}

  set(key: string, value: string, secondsToken: 'EX', seconds: number): RedisTransactionLike {
    this.commands.push(['SET', key, value, secondsToken, String(seconds)]);
    return this;
  }

  publish(channel: string, message: string): RedisTransactionLike {
    this.commands.push(['PUBLISH', channel, message]);
    return this;
  }

  spublish(shardChannel: string, message: string): RedisTransactionLike {
    this.commands.push(['SPUBLISH', shardChannel, message]);
    return this;
  }

  exec(): Promise<ExecReplies | null> {
    return this.execute(this.commands);
  }
}
