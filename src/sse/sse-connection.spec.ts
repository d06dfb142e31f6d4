import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { servedOnce } from '../../test/support/served-once.js';
import { SseConnection } from './sse-connection.js';

/** The body of one stream written by `write`, as Node's HTTP client decoded it. */
async function streamed(write: (response: ServerResponse) => void): Promise<string> {
  return (await servedOnce((_request, response) => write(response))).body;
}

const FIRST_TEXT = 'event: status_update\nid: a:v1\ndata: {"task_id":"a"}\n\n';
const SECOND_TEXT = 'event: status_update\nid: b:v1\ndata: {"task_id":"b","x":"é"}\n\n';
const FIRST = Buffer.from(FIRST_TEXT);
const SECOND = Buffer.from(SECOND_TEXT);

describe('SseConnection', { timeout: 10_000 }, () => {
  it('writes each event as one chunk that the client reads back unchanged, in order', async () => {
    const body = await streamed((response) => {
      const stream = new SseConnection(response, 3000);
      response.writeHead(200, { 'Content-Type': 'text/event-stream' });
      response.write('retry: 3000\n\n');
      // The same text twice in a row (many streams), another, then the first again.
      stream.send(FIRST);
      stream.send(FIRST);
      stream.send(SECOND);
      stream.send(FIRST);
      stream.close(1001, 'Server shutting down');
    });
    assert.equal(
      body,
      `retry: 3000\n\n${FIRST_TEXT}${FIRST_TEXT}${SECOND_TEXT}${FIRST_TEXT}retry: 3000\n: close 1001 Server shutting down\n\n`,
    );
  });

  it('writes through the response before its headers are out, and nothing after it closed', async () => {
    const body = await streamed((response) => {
      const stream = new SseConnection(response, 500);
      stream.send(SECOND);
      stream.send(FIRST);
      stream.close(1013, 'Too slow');
      stream.send(FIRST);
    });
    assert.equal(body, `${SECOND_TEXT}${FIRST_TEXT}retry: 500\n: close 1013 Too slow\n\n`);
  });

  it("leaves the writing to the response when a middleware wrapped the response's write", async () => {
    const body = await streamed((response) => {
      const write = response.write.bind(response) as (chunk: string | Buffer) => boolean;
      // A stand-in for a transforming middleware: it upper-cases what goes through it.
      response.write = ((chunk: string | Buffer) =>
        write(chunk.toString().toUpperCase())) as ServerResponse['write'];
      const stream = new SseConnection(response, 3000);
      response.writeHead(200, { 'Content-Type': 'text/event-stream' });
      response.write(':\n\n');
      stream.send(FIRST);
      stream.send(FIRST);
      response.end();
    });
    assert.equal(body, `:\n\n${FIRST_TEXT.toUpperCase()}${FIRST_TEXT.toUpperCase()}`);
  });

  it('counts as buffered what the socket has not handed to the kernel', async () => {
    let buffered = -1;
    await streamed((response) => {
      const stream = new SseConnection(response, 3000);
      response.writeHead(200);
      response.write(':\n\n');
      const socket = response.socket;
      assert.ok(socket);
      // Corked, the socket keeps every write: the stream's count is the socket's.
      socket.cork();
      stream.send(FIRST);
      buffered = stream.bufferedAmount;
      assert.equal(buffered, socket.writableLength);
      socket.uncork();
      stream.close(1001, 'done');
    });
    assert.ok(buffered >= FIRST.length, `bufferedAmount ${buffered}`);
  });
});
