import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { withTimeout } from './with-timeout.js';

/** One dispatched event of a stream, as an EventSource would see it. */
export interface SseEvent {
  event: string;
  data: string;
  /** The last event id in effect when this one was dispatched (EventSource's lastEventId). */
  lastEventId: string;
  /** The `id:` field of this event itself, when it had one. */
  id?: string;
}

const DEFAULT_WAIT_MS = 5_000;

/**
 * A raw HTTP client of a `text/event-stream`, parsing the stream as the WHATWG rules say
 * (fields, comments, `retry:`, `id:`, blank-line dispatch), and recording everything so tests
 * can assert order and counts. Non-200 answers are kept too (status, headers, body).
 */
export class SseTestClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  readonly retries: number[] = [];
  body = '';
  private buffer = '';
  private pending: { event: string; data: string[]; id?: string } = { event: '', data: [] };
  private lastEventId = '';
  private waiters: Array<() => void> = [];
  private readonly endedPromise: Promise<void>;
  private endedFlag = false;

  private constructor(private readonly response: IncomingMessage) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (this.status === 200) this.parse(chunk);
      else this.body += chunk;
      this.wake();
    });
    this.endedPromise = new Promise((resolve) => {
      const done = () => {
        this.endedFlag = true;
        this.wake();
        resolve();
      };
      response.once('end', done);
      response.once('close', done);
      response.once('error', done);
    });
  }

  /** Opens a stream (or gets the refusal) and resolves once the response head is in. */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseTestClient> {
    return withTimeout(
      new Promise<SseTestClient>((resolve, reject) => {
        const req = request(url, { headers: { Accept: 'text/event-stream', ...headers } });
        req.once('response', (response) => resolve(new SseTestClient(response)));
        req.once('error', reject);
        req.end();
      }),
      DEFAULT_WAIT_MS,
      `the response to GET ${url}`,
    );
  }

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  get headers(): IncomingHttpHeaders {
    return this.response.headers;
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  /** The events named `name`, in order. */
  named(name: string): SseEvent[] {
    return this.events.filter((event) => event.event === name);
  }

  /** The JSON of every `status_update` event, in order. */
  updates(): Array<Record<string, unknown>> {
    return this.named('status_update').map(
      (event) => JSON.parse(event.data) as Record<string, unknown>,
    );
  }

  /** Waits until `condition` holds on what was received so far. */
  async waitFor(condition: () => boolean, what: string, ms = DEFAULT_WAIT_MS): Promise<void> {
    await withTimeout(
      (async () => {
        while (!condition()) {
          if (this.endedFlag) throw new Error(`The stream ended before ${what}`);
          await new Promise<void>((resolve) => this.waiters.push(resolve));
        }
      })(),
      ms,
      what,
    );
  }

  /** Waits until at least `count` events named `name` arrived; returns them. */
  async waitForEvents(name: string, count: number, ms = DEFAULT_WAIT_MS): Promise<SseEvent[]> {
    await this.waitFor(() => this.named(name).length >= count, `${count} "${name}" event(s)`, ms);
    return this.named(name);
  }

  /** Resolves when the server ends the stream. */
  whenEnded(ms = DEFAULT_WAIT_MS): Promise<void> {
    return withTimeout(this.endedPromise, ms, 'the end of the stream');
  }

  close(): void {
    this.response.destroy();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private parse(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) !== -1) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      const { event, data, id } = this.pending;
      this.pending = { event: '', data: [] };
      if (data.length === 0) return;
      this.events.push({
        event: event || 'message',
        data: data.join('\n'),
        lastEventId: this.lastEventId,
        id,
      });
      return;
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1));
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.pending.event = value;
    else if (field === 'data') this.pending.data.push(value);
    else if (field === 'id' && !value.includes('\0')) {
      this.pending.id = value;
      this.lastEventId = value;
    } else if (field === 'retry' && /^\d+$/.test(value)) this.retries.push(Number(value));
  }
}
