import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAppLogger } from '../../src/logging/create-app-logger.js';
import { useGateway } from '../support/use-gateway.js';
import { waitUntil } from '../support/with-timeout.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ORIGIN = 'http://app.example';

async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  await response.body?.cancel();
  return response;
}

/**
 * Collects the JSON log records the app writes to stdout while `act` runs and until `until`
 * holds (bounded). Other output (the test runner's own) passes through.
 */
async function captureLogRecords(
  act: () => Promise<void>,
  until: (records: Record<string, unknown>[]) => boolean,
): Promise<Record<string, unknown>[]> {
  const records: Record<string, unknown>[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('{"level":')) {
      records.push(JSON.parse(chunk) as Record<string, unknown>);
      return true;
    }
    return write(chunk, ...rest);
  };
  try {
    await act();
    // The line is written when the response has been sent, which the client may see first.
    await waitUntil(() => until(records), 5_000, 'the log line of the request');
  } finally {
    process.stdout.write = write;
  }
  return records;
}

describe('HTTP request ids', () => {
  const fixture = useGateway({ settings: { allowedOrigins: [ORIGIN] } });

  it('echoes a sane incoming X-Request-Id', async () => {
    const response = await get(`${fixture.httpUrl}/health/live`, {
      'X-Request-Id': 'lb-7f3a9c.1',
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-request-id'), 'lb-7f3a9c.1');
  });

  it('generates an id when none or an unsafe one comes in', async () => {
    const without = await get(`${fixture.httpUrl}/ws/stats`);
    const unsafe = await get(`${fixture.httpUrl}/ws/stats`, { 'X-Request-Id': 'a b "c"' });
    const tooLong = await get(`${fixture.httpUrl}/ws/stats`, { 'X-Request-Id': 'x'.repeat(200) });
    const ids = [without, unsafe, tooLong].map((r) => r.headers.get('x-request-id') ?? '');
    for (const id of ids) assert.match(id, UUID);
    assert.equal(new Set(ids).size, 3, 'a new id per request');
  });

  it('gives unknown routes and errors an id too, and exposes it to browsers', async () => {
    const missing = await get(`${fixture.httpUrl}/no-such-route`, { Origin: ORIGIN });
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('x-request-id') ?? '', UUID);
    const badRequest = await get(`${fixture.httpUrl}/ws/stats?limit=abc`, { Origin: ORIGIN });
    assert.equal(badRequest.status, 400);
    assert.match(badRequest.headers.get('x-request-id') ?? '', UUID);
    assert.match(badRequest.headers.get('access-control-expose-headers') ?? '', /x-request-id/i);
  });

  it('puts the id on the JSON log line of the request, without the query string', async () => {
    fixture.gateway.app.useLogger(createAppLogger('DEBUG', 'json'));
    try {
      const records = await captureLogRecords(
        async () => {
          const response = await get(`${fixture.httpUrl}/ws/stats?limit=2&token=s3cret`, {
            'X-Request-Id': 'trace-me-42',
          });
          assert.equal(response.status, 200);
        },
        (seen) => seen.some((record) => record.request_id === 'trace-me-42'),
      );
      const line = records.find((record) => record.request_id === 'trace-me-42');
      assert.equal(line?.context, 'HTTP');
      assert.equal(line?.level, 'debug');
      assert.match(String(line?.message), /^GET \/ws\/stats 200 \d+(\.\d+)? ms$/);
      assert.doesNotMatch(JSON.stringify(records), /s3cret/);
    } finally {
      fixture.gateway.app.useLogger(['error', 'fatal']);
    }
  });
});
