import { once } from 'node:events';
import {
  createServer,
  get,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedResponse {
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Serves one request on a loopback port with `serve` and reads the whole response with Node's
 * HTTP client, whose parser checks the chunked framing strictly.
 */
export async function servedOnce(
  serve: (request: IncomingMessage, response: ServerResponse) => void | Promise<void>,
): Promise<ServedResponse> {
  const server = createServer((request, response) => void serve(request, response));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    const [response] = (await once(get({ host: '127.0.0.1', port, agent: false }), 'response')) as [
      IncomingMessage,
    ];
    response.setEncoding('utf8');
    let body = '';
    response.on('data', (text: string) => (body += text));
    await once(response, 'end');
    return { headers: response.headers, body };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}
