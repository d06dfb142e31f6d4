import type { InstanceStatsReport } from '../../src/core/instance-stats.js';
import { waitUntil } from './with-timeout.js';

const REQUEST_TIMEOUT_MS = 5_000;

/** The body of GET /ws/stats: the server's own type. */
export type GatewayStats = InstanceStatsReport;

export interface JsonResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** GET with a bounded wait, the body parsed as JSON. */
export async function getJson<T = unknown>(url: string): Promise<JsonResponse<T>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as T,
  };
}

/** GET /ws/stats of one instance; fails on any status but 200. */
export async function getStats(httpUrl: string, query = ''): Promise<GatewayStats> {
  const { status, body } = await getJson<GatewayStats>(`${httpUrl}/ws/stats${query}`);
  if (status !== 200) throw new Error(`GET /ws/stats${query} answered ${status}`);
  return body;
}

/**
 * Polls GET /ws/stats until `condition` holds and returns the stats that satisfied it. Needed
 * where the server learns of an event asynchronously (a close seen by the client first).
 */
export async function waitForStats(
  httpUrl: string,
  condition: (stats: GatewayStats) => boolean,
  what: string,
  ms = 5_000,
): Promise<GatewayStats> {
  let last: GatewayStats | undefined;
  try {
    await waitUntil(
      async () => {
        last = await getStats(httpUrl);
        return condition(last);
      },
      ms,
      what,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last stats: ${JSON.stringify(last)}`);
  }
  return last as GatewayStats;
}
