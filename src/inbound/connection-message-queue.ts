import type { Observable } from 'rxjs';

/** What a queue does with its items: one object per connection, not three closures. */
export interface MessageQueueHandler<T> {
  handle(item: T): Observable<unknown>;
  answer(response: unknown): void;
  fail(error: unknown): void;
}

/**
 * Handles one connection's messages one at a time, in arrival order, whether a handler answers
 * synchronously or later, so answers leave in request order. What concatMap over the message
 * stream does, without an rxjs pipeline (and its subscribers and closures) per idle connection:
 * only the handler's own observable is subscribed to, while it runs.
 */
export class ConnectionMessageQueue<T> {
  private readonly waiting: T[] = [];
  private busy = false;
  private draining = false;
  private closed = false;

  constructor(private readonly handler: MessageQueueHandler<T>) {}

  get pending(): number {
    return this.waiting.length;
  }

  push(item: T): void {
    if (this.closed) return;
    this.waiting.push(item);
    this.drain();
  }

  /** The connection closed: nothing waiting is handled, and a late answer is not sent. */
  close(): void {
    this.closed = true;
    this.waiting.length = 0;
  }

  /** Observer of the running handler's observable: an answer. */
  next(response: unknown): void {
    if (!this.closed && response !== undefined && response !== null) this.handler.answer(response);
  }

  /** Observer of the running handler's observable: it failed; the next message goes on. */
  error(error: unknown): void {
    this.handler.fail(error);
    this.complete();
  }

  /** Observer of the running handler's observable: it is done. */
  complete(): void {
    this.busy = false;
    // Done synchronously inside drain's subscribe: its loop goes on.
    if (!this.draining) this.drain();
  }

  private drain(): void {
    this.draining = true;
    try {
      while (!this.busy && !this.closed && this.waiting.length > 0) {
        const item = this.waiting.shift() as T;
        this.busy = true;
        try {
          // The queue is the observer: no closures per connection.
          this.handler.handle(item).subscribe(this);
        } catch (error) {
          this.error(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
