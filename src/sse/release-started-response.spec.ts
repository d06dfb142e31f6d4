import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { servedOnce } from '../../test/support/served-once.js';
import { releaseStartedResponse } from './release-started-response.js';
import { SseConnection } from './sse-connection.js';

/** What Express leaves on a routed request (router.handle's `next`, the matched route, the parsed URL). */
function routed(request: IncomingMessage): IncomingMessage & Record<string, unknown> {
  const asked = request as IncomingMessage & Record<string, unknown>;
  asked.next = () => undefined;
  asked.route = {};
  asked._parsedUrl = {};
  return asked;
}

/** Resolves once the socket has handed everything written to the kernel (a stream is idle). */
async function flushed(response: ServerResponse): Promise<void> {
  while ((response.socket?.writableLength ?? 0) > 0) await new Promise(setImmediate);
}

const HEARTBEAT = Buffer.from(':\n\n');
const EVENT_TEXT = 'event: status_update\nid: a:v1\ndata: {"task_id":"a"}\n\n';

describe('releaseStartedResponse', { timeout: 10_000 }, () => {
  it('leaves a started stream sending, beating and closing as before, with its head unchanged', async () => {
    let closed = 0;
    const { headers, body } = await servedOnce(async (request, response) => {
      const stream = new SseConnection(response, 3000);
      stream.on('close', () => (closed += 1));
      response.setHeader('X-Request-Id', 'r-1');
      response.writeHead(200, { 'Content-Type': 'text/event-stream' });
      response.write('retry: 3000\n\n');
      const head = (response as ServerResponse & { _header: string })._header;
      const asked = routed(request);

      releaseStartedResponse(asked, response, stream.writesDirect);

      assert.equal(response.headersSent, true);
      assert.equal((response as ServerResponse & { _header: string })._header, head);
      // The table of headers set is gone: nothing may change it once the head is out.
      assert.equal(response.getHeader('content-type'), undefined);
      assert.deepEqual(Object.keys(response.getHeaders()), []);
      assert.equal(asked.next, undefined);
      assert.equal(asked.route, undefined);
      assert.equal(asked._parsedUrl, undefined);
      await flushed(response);
      stream.beat(HEARTBEAT);
      stream.send(Buffer.from(EVENT_TEXT));
      stream.close(1001, 'Server shutting down');
    });
    assert.equal(headers['content-type'], 'text/event-stream');
    assert.equal(headers['x-request-id'], 'r-1');
    assert.equal(
      body,
      `retry: 3000\n\n:\n\n${EVENT_TEXT}retry: 3000\n: close 1001 Server shutting down\n\n`,
    );
    assert.equal(closed, 1, 'the stream reports its close once');
  });

  it("keeps the header table when a middleware wraps the response's write", async () => {
    let contentType: unknown;
    const { body } = await servedOnce((request, response) => {
      const write = response.write.bind(response) as (chunk: string | Buffer) => boolean;
      // A stand-in for compression: what it writes goes through it, and it may still read headers.
      response.write = ((chunk: string | Buffer) =>
        write(chunk.toString().toUpperCase())) as ServerResponse['write'];
      const stream = new SseConnection(response, 500);
      response.setHeader('Content-Type', 'text/event-stream');
      response.writeHead(200);
      response.write(':\n\n');

      releaseStartedResponse(routed(request), response, stream.writesDirect);

      contentType = response.getHeader('content-type');
      stream.send(Buffer.from(EVENT_TEXT));
      stream.close(1001, 'Server shutting down');
    });
    assert.equal(contentType, 'text/event-stream');
    assert.equal(
      body,
      `:\n\n${EVENT_TEXT.toUpperCase()}retry: 500\n: close 1001 Server shutting down\n\n`,
    );
  });
});
