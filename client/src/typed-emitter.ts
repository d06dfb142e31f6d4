import { reportLater } from './host.js';

/** Event name -> the arguments its listeners receive. */
export type EventMap<Events> = { [E in keyof Events]: unknown[] };

export type Listener<Args extends unknown[]> = (...args: Args) => void;

/**
 * A minimal typed event emitter that runs the same in browsers and Node. A listener that throws
 * does not stop the other listeners nor the caller (the client's message handling): its error is
 * rethrown on a fresh task, where the host reports it as uncaught.
 */
export class TypedEmitter<Events extends EventMap<Events>> {
  // Typed at the public methods; stored untyped, since one set holds one event's listeners.
  private readonly listeners = new Map<keyof Events, Set<unknown>>();

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs once; returns a function that removes it. */
  once<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    const off = this.on(event, (...args: Events[E]) => {
      off();
      listener(...args);
    });
    return off;
  }

  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): void {
    this.listeners.get(event)?.delete(listener);
  }

  listenerCount<E extends keyof Events>(event: E): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  protected emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    // A copy: listeners may add or remove listeners while this runs.
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[E]>)(...args);
      } catch (error) {
        reportLater(error);
      }
    }
  }
}
