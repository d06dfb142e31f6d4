import { parseUrl } from './host.js';

/**
 * The gateway's event stream URL beside its WebSocket URL: `ws://host:8001/ws` gives
 * `http://host:8001/tasks/events` (`wss` gives `https`), the query (a `?token=`) kept. Returns
 * undefined for a URL whose path does not end in `/ws`, where only an explicit `sseUrl` can say.
 */
export function streamUrlFor(webSocketUrl: string): string | undefined {
  let url;
  try {
    url = parseUrl(webSocketUrl);
  } catch {
    return undefined;
  }
  const protocol = { 'ws:': 'http:', 'wss:': 'https:' }[url.protocol];
  if (!protocol || !url.pathname.endsWith('/ws')) return undefined;
  url.protocol = protocol;
  url.pathname = `${url.pathname.slice(0, -'ws'.length)}tasks/events`;
  return url.toString();
}

/**
 * One stream request: the base URL with a `task_id` per task, `last_event_id` naming the last
 * event id seen of each task that has one (the gateway then sends those tasks only a newer
 * state), and `token` when one is given (an EventSource cannot set an Authorization header).
 */
export function streamRequestUrl(
  base: string,
  taskIds: Iterable<string>,
  lastEventIds: readonly string[],
  token: string | undefined,
): string {
  const url = parseUrl(base);
  const query = url.searchParams;
  query.delete('task_id');
  for (const taskId of taskIds) query.append('task_id', taskId);
  query.delete('last_event_id');
  if (lastEventIds.length > 0) query.set('last_event_id', lastEventIds.join(','));
  if (token !== undefined) query.set('token', token);
  return url.toString();
}
