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

/** What one stream asks for. */
export interface StreamRequest {
  taskIds: Iterable<string>;
  groupIds: Iterable<string>;
  /** Event ids (`<task_id>:<position>`) of the states held, sent as `last_event_id`. */
  lastEventIds: readonly string[];
}

/**
 * One stream request: the base URL with a `task_id` per task and a `group` per group,
 * `last_event_id` naming the last event id seen of tasks (the gateway then sends those tasks only
 * a newer state), and `token` when one is given (an EventSource cannot set an Authorization
 * header).
 */
export function streamRequestUrl(
  base: string,
  { taskIds, groupIds, lastEventIds }: StreamRequest,
  token: string | undefined,
): string {
  const url = parseUrl(base);
  const query = url.searchParams;
  for (const name of ['task_id', 'group', 'last_event_id']) query.delete(name);
  for (const taskId of taskIds) query.append('task_id', taskId);
  for (const groupId of groupIds) query.append('group', groupId);
  if (lastEventIds.length > 0) query.set('last_event_id', lastEventIds.join(','));
  if (token !== undefined) query.set('token', token);
  return url.toString();
}
