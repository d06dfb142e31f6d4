/**
 * The load generator's own cost per frame, for each client, on the same replayed stream: a
 * server process of its own writes a `subscribed` answer and then N updates as the gateway
 * writes them (one HTTP/1.1 chunk per SSE event, one frame per WebSocket message), and this
 * process, alone on its side, reads them with LeanSseConnection or LeanConnection and reports
 * its CPU time (user + system) per frame from the subscription to the last frame. CPU time, not
 * wall time: the figure barely moves with the load of other processes.
 *
 *   node bench/dist/src/sse-client-cost.js [--frames 20000] [--trials 5] [--batch 1,64]
 *     [--sse-module ./lean-sse-client.js]
 *
 * `--batch`: updates per server write (1: one per read, as in S3; 64: many per read, as in S2).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { LatencyHistogram } from './latency-histogram.js';
import { DeliveryTally, LeanConnection } from './lean-ws-client.js';

const TASK = 'task-cost';

function update(seq: number): string {
  return (
    `{"type":"status_update","task_id":"${TASK}","data":{"task_id":"${TASK}","status":"running",` +
    `"progress":${seq % 100},"message":"step ${seq}","seq":${seq},"sent_at_us":${1_000_000 + seq}}}`
  );
}

function sseChunk(text: string): Buffer {
  return Buffer.from(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);
}

function wsFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header =
    payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, 0, 0]);
  if (payload.length >= 126) header.writeUInt16BE(payload.length, 2);
  return Buffer.concat([header, payload]);
}

/** The replaying server: answers one connection, SSE or WebSocket, with `frames` updates. */
function serve(frames: number, batch: number): void {
  const server = createServer((socket: Socket) => {
    socket.setNoDelay(true);
    let request = '';
    const onData = (data: Buffer): void => {
      request += data.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const key = /sec-websocket-key: (\S+)/i.exec(request)?.[1];
      let encode: (text: string) => Buffer;
      if (key === undefined) {
        encode = (text) => sseChunk(`event: status_update\nid: ${TASK}:-\ndata: ${text}\n\n`);
        socket.write(
          'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n',
        );
        socket.write(
          sseChunk(`event: subscribed\ndata: {"type":"subscribed","task_id":"${TASK}"}\n\n`),
        );
        void send(encode);
      } else {
        encode = wsFrame;
        const accept = createHash('sha1')
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64');
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        // The subscribe frame: answered, then the updates.
        socket.once('data', () => {
          socket.write(wsFrame(`{"type":"subscribed","task_id":"${TASK}"}`));
          void send(encode);
        });
      }
    };
    const send = async (encode: (text: string) => Buffer): Promise<void> => {
      for (let seq = 1; seq <= frames; seq += batch) {
        const parts: Buffer[] = [];
        for (let s = seq; s < seq + batch && s <= frames; s += 1) parts.push(encode(update(s)));
        if (!socket.write(Buffer.concat(parts))) await once(socket, 'drain');
        // A turn of the loop between writes, so that the client reads them apart.
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address !== null && typeof address === 'object') process.send?.(address.port);
  });
}

interface Client {
  frames: number;
  open(timeoutMs: number): Promise<void>;
  close(): void;
}

async function trial(
  kind: 'ws' | 'sse',
  sseModule: string,
  frames: number,
  batch: number,
): Promise<number> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [
    'serve',
    String(frames),
    String(batch),
  ]);
  try {
    const [port] = (await once(child, 'message')) as [number];
    const tally = new DeliveryTally(new LatencyHistogram());
    let client: Client;
    if (kind === 'ws') {
      client = new LeanConnection({ host: '127.0.0.1', port, dialect: 'task-status' }, TASK, tally);
    } else {
      const { LeanSseConnection } = (await import(sseModule)) as {
        LeanSseConnection: new (...args: unknown[]) => Client;
      };
      client = new LeanSseConnection({ host: '127.0.0.1', port, dialect: 'sse' }, TASK, tally);
    }
    const before = process.cpuUsage();
    await client.open(10_000);
    const deadline = Date.now() + 60_000;
    while (tally.frames < frames) {
      if (Date.now() > deadline) throw new Error(`${kind}: ${tally.frames} of ${frames} frames`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const used = process.cpuUsage(before);
    client.close();
    if (tally.protocolErrors + tally.wrongTask > 0) throw new Error(`${kind}: frames refused`);
    return (used.user + used.system) / frames;
  } finally {
    child.kill();
  }
}

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

async function main(): Promise<void> {
  const frames = Number(option('frames', '20000'));
  const trials = Number(option('trials', '5'));
  const batches = option('batch', '1,64').split(',').map(Number);
  const sseModule = option('sse-module', './lean-sse-client.js');
  if (![frames, trials, ...batches].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error('--frames, --trials and --batch take positive integers');
  }
  console.log(`| client | updates per write | CPU µs per frame (median of ${trials}) | trials |`);
  console.log('|---|---|---|---|');
  for (const batch of batches) {
    for (const kind of ['ws', 'sse'] as const) {
      const costs: number[] = [];
      // One trial more than measured: the first warms the JIT up and is left out.
      for (let i = 0; i <= trials; i += 1) {
        const cost = await trial(kind, sseModule, frames, batch);
        if (i > 0) costs.push(cost);
      }
      const sorted = [...costs].sort((a, b) => a - b);
      const name = kind === 'ws' ? 'WebSocket (lean-ws-client)' : `SSE (${sseModule})`;
      console.log(
        `| ${name} | ${batch} | ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} | ` +
          `${costs.map((c) => c.toFixed(2)).join(', ')} |`,
      );
    }
  }
}

if (process.argv[2] === 'serve') {
  serve(Number(process.argv[3]), Number(process.argv[4]));
} else {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
