/**
 * The message of a Redis connection error, with its cause where ioredis hides it: on a Redis
 * Cluster a refused login (WRONGPASS, NOAUTH) or a TLS failure reaches the 'error' listener as
 * "Failed to refresh slots cache." with the node's own error in `lastNodeError`.
 */
export function redisErrorMessage(error: Error): string {
  const cause: unknown = (error as { lastNodeError?: unknown }).lastNodeError;
  if (cause instanceof Error && cause.message !== '' && cause.message !== error.message) {
    return `${error.message} Last node error: ${cause.message}`;
  }
  return error.message;
}
