import type { RedisOptions } from 'ioredis';

/** What each node connection of a Redis Cluster takes from REDIS_URL. */
export type ClusterNodeCredentials = Pick<RedisOptions, 'username' | 'password' | 'tls'>;

/**
 * The username, password and TLS (`rediss://`) of `url`, for every node of a Redis Cluster: the
 * nodes are discovered, so only what holds for all of them is taken; host, port and db are not
 * (a cluster has no db but 0). The error never repeats the URL, which may carry a password.
 */
export function clusterNodeCredentials(url: string): ClusterNodeCredentials {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('The Redis URL (REDIS_URL) is not a valid redis:// or rediss:// URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(
      `The Redis URL (REDIS_URL) must start with redis:// or rediss://, not ${parsed.protocol}//`,
    );
  }
  // WHATWG URLs keep userinfo percent-encoded; ioredis decodes it the same way for one Redis.
  const username = decodeUserInfo(parsed.username, 'username');
  const password = decodeUserInfo(parsed.password, 'password');
  return {
    ...(username === '' ? {} : { username }),
    ...(password === '' ? {} : { password }),
    // As ioredis does for rediss:// on one Redis: TLS with Node's defaults (certificate verified).
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

function decodeUserInfo(value: string, what: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new Error(`The ${what} in the Redis URL (REDIS_URL) has a malformed %-escape`);
  }
}
