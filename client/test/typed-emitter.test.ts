import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypedEmitter } from '../src/typed-emitter.js';

interface Events {
  tick: [count: number];
  name: [first: string, last: string];
}

class Emitter extends TypedEmitter<Events> {
  fire<E extends keyof Events>(event: E, ...args: Events[E]): void {
    this.emit(event, ...args);
  }
}

describe('TypedEmitter', () => {
  it('calls the listeners of an event with its arguments, in order of registration', () => {
    const emitter = new Emitter();
    const calls: string[] = [];
    emitter.on('name', (first, last) => calls.push(`1:${first} ${last}`));
    emitter.on('name', (first, last) => calls.push(`2:${first} ${last}`));
    emitter.on('tick', (count) => calls.push(`tick ${count}`));
    emitter.fire('name', 'Ada', 'Lovelace');
    assert.deepEqual(calls, ['1:Ada Lovelace', '2:Ada Lovelace']);
  });

  it('removes a listener through the function on() returns, and through off()', () => {
    const emitter = new Emitter();
    const seen: number[] = [];
    const listener = (count: number) => seen.push(count);
    const off = emitter.on('tick', listener);
    emitter.fire('tick', 1);
    off();
    emitter.fire('tick', 2);
    emitter.on('tick', listener);
    emitter.off('tick', listener);
    emitter.fire('tick', 3);
    assert.deepEqual(seen, [1]);
    assert.equal(emitter.listenerCount('tick'), 0);
  });

  it('runs a once() listener a single time', () => {
    const emitter = new Emitter();
    const seen: number[] = [];
    emitter.once('tick', (count) => seen.push(count));
    emitter.fire('tick', 1);
    emitter.fire('tick', 2);
    assert.deepEqual(seen, [1]);
  });

  it('lets a listener remove another during an emission without skipping anyone this round', () => {
    const emitter = new Emitter();
    const seen: string[] = [];
    const second = () => seen.push('second');
    emitter.on('tick', () => {
      seen.push('first');
      emitter.off('tick', second);
    });
    emitter.on('tick', second);
    emitter.fire('tick', 1);
    emitter.fire('tick', 2);
    assert.deepEqual(seen, ['first', 'second', 'first']);
  });
});
