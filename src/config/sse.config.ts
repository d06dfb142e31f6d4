import { registerAs } from '@nestjs/config';
import type { SseOptions } from '../sse/sse-options.js';
import { environment } from './environment.js';

export const sseConfig = registerAs('sse', (): SseOptions => {
  const env = environment();
  return {
    heartbeatMs: env.SSE_HEARTBEAT_MS,
    retryMs: env.SSE_RETRY_MS,
    retryJitterMs: env.SSE_RETRY_JITTER_MS,
    paddingBytes: env.SSE_PADDING_BYTES,
  };
});
