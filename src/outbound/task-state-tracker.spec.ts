import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskStateTracker } from './task-state-tracker.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

describe('TaskStateTracker', () => {
  it('delivers anything for a task it has not seen', () => {
    const tracker = new TaskStateTracker(TERMINAL);
    assert.equal(tracker.judge('t', { status: 'processing', version: 1 }), 'deliver');
    assert.equal(tracker.seq('t'), 0);
  });

  it('orders by version when both states carry one, equal versions passing', () => {
    const tracker = new TaskStateTracker(TERMINAL);
    tracker.recordLive('t', { version: 5 }, 'f5');
    assert.equal(tracker.judge('t', { version: 4 }), 'stale');
    assert.equal(tracker.judge('t', { version: 5 }), 'deliver');
    assert.equal(tracker.judge('t', { version: 6 }), 'deliver');
    assert.equal(tracker.judge('t', { status: 'no version' }), 'deliver');
  });

  it('orders by updated_at (ISO or epoch ms) when there is no version', () => {
    const tracker = new TaskStateTracker(TERMINAL);
    tracker.recordLive('t', { updated_at: '2026-01-01T00:00:10Z' }, 'f');
    assert.equal(tracker.judge('t', { updated_at: '2026-01-01T00:00:09Z' }), 'stale');
    assert.equal(tracker.judge('t', { updated_at: Date.parse('2026-01-01T00:00:11Z') }), 'deliver');
    assert.equal(tracker.judge('t', { updated_at: 'not a date' }), 'deliver');
  });

  it('prefers version over updated_at', () => {
    const tracker = new TaskStateTracker(TERMINAL);
    tracker.recordLive('t', { version: 2, updated_at: '2026-01-01T00:00:10Z' }, 'f');
    assert.equal(tracker.judge('t', { version: 3, updated_at: '2020-01-01T00:00:00Z' }), 'deliver');
    assert.equal(tracker.judge('t', { version: 1, updated_at: '2030-01-01T00:00:00Z' }), 'stale');
  });

  it('lets only terminal states through after a terminal one', () => {
    const tracker = new TaskStateTracker(TERMINAL);
    tracker.recordLive('t', { status: 'completed' }, 'f');
    assert.equal(tracker.judge('t', { status: 'processing' }), 'after_terminal');
    assert.equal(tracker.judge('t', { status: 'failed' }), 'deliver');
    assert.equal(tracker.judge('t', {}), 'after_terminal');
  });

  it('counts live deliveries and remembers the last frame; snapshots move only the marks', () => {
    const tracker = new TaskStateTracker(TERMINAL);
    tracker.recordLive('t', { version: 1 }, 'one');
    tracker.recordSnapshot('t', { version: 3, status: 'cancelled' });
    assert.equal(tracker.seq('t'), 1);
    assert.equal(tracker.lastFrame('t'), 'one');
    assert.equal(tracker.judge('t', { version: 2, status: 'cancelled' }), 'stale');
    assert.equal(tracker.judge('t', { version: 4, status: 'processing' }), 'after_terminal');
  });

  it('forgets a task entirely', () => {
    const tracker = new TaskStateTracker(TERMINAL);
    tracker.recordLive('t', { status: 'completed', version: 9 }, 'f');
    tracker.forget('t');
    assert.equal(tracker.size, 0);
    assert.equal(tracker.judge('t', { status: 'processing', version: 1 }), 'deliver');
  });

  it('uses the configured terminal statuses', () => {
    const tracker = new TaskStateTracker(new Set(['done']));
    tracker.recordLive('t', { status: 'completed' }, 'f');
    assert.equal(tracker.judge('t', { status: 'processing' }), 'deliver');
    tracker.recordLive('t', { status: 'done' }, 'g');
    assert.equal(tracker.judge('t', { status: 'processing' }), 'after_terminal');
  });

  it('tells the second copy of a state that comes twice, and only for such tasks', () => {
    const tracker = new TaskStateTracker(TERMINAL);
    for (const frame of ['a', 'b', 'c', 'd', 'e']) {
      tracker.recordLive('two', { status: 'processing' }, frame, false, true);
    }
    tracker.recordLive('one', { status: 'processing' }, 'a');
    // The last four frames: a copy that fell behind a few newer states is still known.
    assert.deepEqual(
      ['a', 'b', 'e', 'x'].map((frame) => tracker.isCopy('two', frame)),
      [false, true, true, false],
    );
    assert.equal(tracker.isCopy('one', 'a'), false);
  });
});
