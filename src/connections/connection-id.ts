import { randomBytes } from 'node:crypto';

const ids = new WeakMap<object, string>();

/** A short random id for a connection, stable for its lifetime, for logs. */
export function connectionIdOf(connection: object): string {
  let id = ids.get(connection);
  if (id === undefined) {
    id = randomBytes(6).toString('hex');
    ids.set(connection, id);
  }
  return id;
}
