import type { RedisConnection } from './redis-connection.factory.js';

/** QUIT, bounded in time: a Redis that does not answer must not hold up shutdown. */
export async function quitGracefully(
  connection: RedisConnection,
  timeoutMs = 1_000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      connection.quit(),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
  } catch {
    // The connection is going away either way.
  } finally {
    clearTimeout(timer);
    connection.disconnect();
  }
}
