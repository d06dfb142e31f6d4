import { HttpPublisher } from './http-publisher.js';
import type { RedisServerProcess } from './redis-server-process.js';
import { RespPublisher } from './resp-publisher.js';
import type { TargetProcess } from './target-process.js';

/**
 * What the scenarios publish updates through, whatever carries them to the target: Redis
 * `PUBLISH` on the run's channel ({@link RespPublisher}) or an HTTP POST per update to nchan
 * ({@link HttpPublisher}). Updates are queued by `publish()` and written at the next `flush()`.
 */
export interface UpdatePublisher {
  /** Updates queued or written. */
  readonly published: number;
  /** Answers read, one per update handled. */
  readonly replies: number;
  /** Updates the target was not there to receive (Redis: nobody subscribed to the channel). */
  readonly unheard: number;
  /** Updates refused, or lost with a connection. */
  readonly errors: number;
  /** Written bytes not yet accepted by the kernel. */
  readonly bufferedBytes: number;
  publish(payload: string): void;
  flush(): void;
  /** Resolves once every update written so far has been answered (or given up as an error). */
  settled(timeoutMs: number): Promise<void>;
  close(): void;
}

/** The publisher the target listens to: its own HTTP endpoint (nchan) or the run's Redis. */
export function connectPublisher(ctx: {
  target: TargetProcess;
  redis: RedisServerProcess;
  options: { channel: string };
}): Promise<UpdatePublisher> {
  switch (ctx.target.definition.publisher) {
    case 'redis':
      return RespPublisher.connect(ctx.redis.port, ctx.options.channel);
    case 'http':
      return HttpPublisher.connect(ctx.target.port);
  }
}
