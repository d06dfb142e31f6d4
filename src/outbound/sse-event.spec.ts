import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeStatusEvent, eventIdOf, positionOf } from './sse-event.js';

describe('sse-event', () => {
  it('places a state by version, else by updated_at in epoch ms, else not at all', () => {
    assert.equal(positionOf({ version: 7, updated_at: '2026-01-01T00:00:00Z' }), 'v7');
    assert.equal(
      positionOf({ updated_at: '2026-01-01T00:00:00.000Z' }),
      `t${Date.UTC(2026, 0, 1)}`,
    );
    assert.equal(positionOf({ updated_at: 1_733_331_000_000 }), 't1733331000000');
    assert.equal(positionOf({ version: '7' }), '-', 'a version that is not a number');
    assert.equal(positionOf({ updated_at: 'yesterday' }), '-');
    assert.equal(positionOf({ status: 'running' }), '-');
  });

  it('ids a state as <task_id>:<position>, the task id keeping its own colons', () => {
    assert.equal(eventIdOf('org:42.job_7', { version: 3 }), 'org:42.job_7:v3');
  });

  it('encodes one event: name, id, the JSON on one data line, a blank line', () => {
    const json = JSON.stringify({ type: 'status_update', task_id: 'a', data: { message: 'x\ny' } });
    assert.equal(
      encodeStatusEvent(json, 'a:-').toString(),
      `event: status_update\nid: a:-\ndata: ${json}\n\n`,
    );
    assert.ok(!json.includes('\n'), 'JSON.stringify escapes line breaks');
  });
});
