import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY, Subject, of, throwError, type Observable } from 'rxjs';
import { ConnectionMessageQueue } from './connection-message-queue.js';

function recorder() {
  const answers: unknown[] = [];
  const errors: unknown[] = [];
  return {
    answers,
    errors,
    answer: (r: unknown) => answers.push(r),
    fail: (e: unknown) => errors.push(e),
  };
}

describe('ConnectionMessageQueue', () => {
  it('answers synchronous handlers at once, in order', () => {
    const { answers, errors, answer, fail } = recorder();
    const queue = new ConnectionMessageQueue<number>({ handle: (n) => of(n * 10), answer, fail });
    for (const n of [1, 2, 3]) queue.push(n);
    assert.deepEqual(answers, [10, 20, 30]);
    assert.deepEqual(errors, []);
    assert.equal(queue.pending, 0);
  });

  it('holds later messages until a slow handler is done, then answers them in request order', () => {
    const { answers, answer, fail } = recorder();
    const slow = new Subject<unknown>();
    const handled: number[] = [];
    const queue = new ConnectionMessageQueue<number>({
      handle: (n): Observable<unknown> => {
        handled.push(n);
        return n === 1 ? slow : of(`answer ${n}`);
      },
      answer,
      fail,
    });
    queue.push(1);
    queue.push(2);
    queue.push(3);
    assert.deepEqual(handled, [1], 'the second waits for the first');
    assert.equal(queue.pending, 2);

    slow.next('answer 1');
    slow.complete();

    assert.deepEqual(handled, [1, 2, 3]);
    assert.deepEqual(answers, ['answer 1', 'answer 2', 'answer 3']);
  });

  it('skips empty answers, and goes on after a handler that errors or throws', () => {
    const { answers, errors, answer, fail } = recorder();
    const queue = new ConnectionMessageQueue<string>({
      handle: (item) => {
        if (item === 'throw') throw new Error('thrown');
        if (item === 'error') return throwError(() => new Error('errored'));
        if (item === 'none') return EMPTY;
        if (item === 'null') return of(null);
        return of(item);
      },
      answer,
      fail,
    });
    for (const item of ['a', 'throw', 'none', 'error', 'null', 'b']) queue.push(item);
    assert.deepEqual(answers, ['a', 'b']);
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['thrown', 'errored'],
    );
  });

  it('after close, handles nothing waiting and sends no late answer', () => {
    const { answers, answer, fail } = recorder();
    const slow = new Subject<unknown>();
    const handled: number[] = [];
    const queue = new ConnectionMessageQueue<number>({
      handle: (n) => {
        handled.push(n);
        return n === 1 ? slow : of(n);
      },
      answer,
      fail,
    });
    queue.push(1);
    queue.push(2);
    queue.close();
    slow.next('late');
    slow.complete();
    queue.push(3);
    assert.deepEqual(handled, [1]);
    assert.deepEqual(answers, []);
  });
});
