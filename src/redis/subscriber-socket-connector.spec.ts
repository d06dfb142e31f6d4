import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SubscriberSocketConnector } from './subscriber-socket-connector.js';

const push = (payload: string): string =>
  `*3\r\n$7\r\nmessage\r\n$7\r\nupdates\r\n$${Buffer.byteLength(payload)}\r\n${payload}\r\n`;

const dropByPrefix = (bytes: Buffer, start: number, end: number): boolean =>
  bytes.toString('utf8', start, end).startsWith('drop');

/** A server that writes `bytes` to each client and ends; `listening` resolves once it listens. */
function serving(bytes: Buffer, path?: string): { server: Server; listening: Promise<unknown> } {
  const server = createServer((client) => client.end(bytes));
  const listening = once(server.listen(path ?? { host: '127.0.0.1', port: 0 }), 'listening');
  return { server, listening };
}

/** Everything the socket emits as 'data' until it ends, as ioredis' decoder would see it. */
async function received(socket: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'end');
  return Buffer.concat(chunks).toString();
}

const noErrors = (): void => undefined;

describe('SubscriberSocketConnector', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((server) => server.close()));

  it('emits what the decoder must see, across reads of the reused buffer', async () => {
    // Arrange: more than the 64 KiB buffer, so it takes several reads.
    const large = push(`keep-${'y'.repeat(100_000)}`);
    const drops = Array.from({ length: 2000 }, (_, index) => push(`drop-${index}`)).join('');
    const stream = '+OK\r\n' + drops + push('keep-1') + drops + large + ':1\r\n' + drops;
    const { server, listening } = serving(Buffer.from(stream));
    servers.push(server);
    await listening;
    const { port } = server.address() as AddressInfo;
    const Connector = SubscriberSocketConnector.dropping(dropByPrefix);

    // Act
    const socket = await new Connector({ host: '127.0.0.1', port }).connect(noErrors);

    // Assert
    assert.equal(await received(socket), '+OK\r\n' + push('keep-1') + large + ':1\r\n');
  });

  it('opens a new socket with its own reader on each connect, as after a reconnect', async () => {
    // Arrange: the second socket starts while the first still holds an incomplete frame.
    const stream = push('keep-1') + push('drop-1');
    const { server, listening } = serving(Buffer.from(stream));
    servers.push(server);
    await listening;
    const { port } = server.address() as AddressInfo;
    const connector = new (SubscriberSocketConnector.dropping(dropByPrefix))({
      host: '127.0.0.1',
      port,
    });

    // Act
    const first = await connector.connect(noErrors);
    const firstReceived = await received(first);
    const second = await connector.connect(noErrors);

    // Assert
    assert.notEqual(second, first);
    assert.equal(firstReceived, push('keep-1'));
    assert.equal(await received(second), push('keep-1'));
  });

  it('leaves a unix socket to ioredis: its reads arrive as the stream reads them', async () => {
    // Arrange
    const directory = mkdtempSync(join(tmpdir(), 'subscriber-connector-'));
    after(() => rmSync(directory, { recursive: true, force: true }));
    const path = join(directory, 'redis.sock');
    const stream = push('keep-1') + push('drop-1');
    const { server, listening } = serving(Buffer.from(stream), path);
    servers.push(server);
    await listening;
    const Connector = SubscriberSocketConnector.dropping(dropByPrefix);

    // Act
    const socket = await new Connector({ path }).connect(noErrors);

    // Assert: nothing dropped here; SubscriberPushReader.attach reads such a socket.
    assert.equal(await received(socket), stream);
  });

  it('does not open a socket when disconnected before the next tick', async () => {
    // Arrange
    const connector = new (SubscriberSocketConnector.dropping(dropByPrefix))({
      host: '127.0.0.1',
      port: 1,
    });

    // Act
    const connecting = connector.connect(noErrors);
    connector.disconnect();

    // Assert
    await assert.rejects(connecting, /Connection is closed/);
  });
});
