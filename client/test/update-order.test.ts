import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskStatusData } from '../src/protocol.js';
import { UpdateOrder } from '../src/update-order.js';

/** Feeds states in order; returns those accepted (not older than what came before). */
function accepted(...states: TaskStatusData[]): TaskStatusData[] {
  const order = new UpdateOrder();
  return states.filter((state) => {
    if (order.isOlder(state)) return false;
    order.accept(state);
    return true;
  });
}

const at = (second: number) => `2030-01-01T00:00:${String(second).padStart(2, '0')}Z`;

describe('UpdateOrder', () => {
  it('orders by version when states carry one; an equal version is not older', () => {
    assert.deepEqual(
      accepted({ version: 2 }, { version: 1 }, { version: 2 }, { version: 3 }, { version: 2 }),
      [{ version: 2 }, { version: 2 }, { version: 3 }],
    );
  });

  it('lets version win over updated_at when both carry a version', () => {
    assert.deepEqual(
      accepted(
        { version: 2, updated_at: at(9) },
        { version: 3, updated_at: at(1) },
        { version: 1, updated_at: at(30) },
      ),
      [
        { version: 2, updated_at: at(9) },
        { version: 3, updated_at: at(1) },
      ],
    );
  });

  it('orders by updated_at as time, not text, without versions; an equal time is not older', () => {
    assert.deepEqual(
      accepted(
        { s: 'b', updated_at: at(2) },
        { s: 'a', updated_at: at(1) },
        { s: 'b2', updated_at: at(2) },
        // 01:00:03+02:00 is the day before: older, though it sorts later as text.
        { s: 'tz', updated_at: '2030-01-01T01:00:03+02:00' },
        { s: 'c', updated_at: Date.parse(at(3)) },
      ).map((state) => state.s),
      ['b', 'b2', 'c'],
    );
  });

  it('keeps the highest of each field seen, as the gateway does', () => {
    // The second state has no version, the third an old version but a new time: older by version.
    assert.deepEqual(
      accepted(
        { version: 5, updated_at: at(5) },
        { updated_at: at(9) },
        { version: 4, updated_at: at(10) },
      ),
      [{ version: 5, updated_at: at(5) }, { updated_at: at(9) }],
    );
  });

  it('accepts everything in arrival order without comparable fields', () => {
    const states = [
      { status: 'b' },
      { status: 'a' },
      { version: '1' },
      { updated_at: 'yesterday' },
      { version: Number.NaN },
    ];
    assert.deepEqual(accepted(...states), states);
  });
});
