import type { IncomingMessage, ServerResponse } from 'node:http';

/** Node's own key of a response's header table (`this[kOutHeaders] = null` in OutgoingMessage). */
let outHeadersKey: symbol | null | undefined;

function outHeadersKeyOf(response: ServerResponse): symbol | null {
  outHeadersKey ??=
    Object.getOwnPropertySymbols(response).find((key) => key.description === 'kOutHeaders') ?? null;
  return outHeadersKey;
}

/**
 * Lets go of what a stream's request and response hold only for the routing and the head, once
 * the head is out: an idle stream lives for hours, and each of these stays on the heap with it
 * (with them, an idle stream held three times the heap of an idle WebSocket).
 *
 * - The head as sent: Node builds it by concatenation, a tree of some eighty string pieces
 *   (2.6 KB) that `_header` keeps (headersSent reads it). Converting it to a number makes V8
 *   flatten it in place (the flatstr idiom; still done once the function is optimised), one
 *   string of its length; its value stays the same.
 * - The table of headers set (helmet's, CORS', ours: twenty [name, value] pairs). Once the head
 *   is sent nothing may change it, and Node reads it only to answer getHeader(); only when
 *   writes are not wrapped (`direct`), since a wrapper such as compression may still ask. Node
 *   has kept it under the kOutHeaders symbol since Node 8; without that symbol nothing is dropped.
 * - Express' routing state on the request: `next` keeps the router's closures (the route stack
 *   walk, the final handler), `route` and `_parsedUrl` are recomputed on demand.
 */
export function releaseStartedResponse(
  request: IncomingMessage,
  response: ServerResponse,
  direct: boolean,
): void {
  const sent = response as ServerResponse & { _header?: unknown };
  if (typeof sent._header === 'string') Number(sent._header);
  const key = direct ? outHeadersKeyOf(response) : null;
  if (key !== null && response.headersSent) {
    (response as unknown as Record<symbol, unknown>)[key] = null;
  }
  const routed = request as IncomingMessage & Record<string, unknown>;
  // Assigned, not deleted: a delete turns the request into a dictionary, larger than it was.
  routed.next = undefined;
  routed.route = undefined;
  routed._parsedUrl = undefined;
}
