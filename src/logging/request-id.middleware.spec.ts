import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptRequestId } from './request-id.middleware.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('acceptRequestId', () => {
  it('keeps an incoming id made of the usual id characters', () => {
    for (const id of [
      '550e8400-e29b-41d4-a716-446655440000',
      '01HZX3K7Q9W2E5R8T1Y4U6I0OP',
      'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6',
      'req_42.retry:1',
      'dGVzdA==/+x',
      'x'.repeat(128),
    ]) {
      assert.equal(acceptRequestId(id), id);
    }
  });

  it('replaces a missing, empty, long or unsafe id with a fresh UUID', () => {
    for (const id of [
      undefined,
      '',
      'x'.repeat(129),
      'two words',
      'line\nbreak',
      '"quoted"',
      '<script>',
      'ünïcode',
    ]) {
      const accepted = acceptRequestId(id);
      assert.notEqual(accepted, id);
      assert.match(accepted, UUID, JSON.stringify(id));
    }
  });

  it('reads the first of repeated headers, and generates a new id for every request', () => {
    assert.equal(acceptRequestId(['first-id', 'second-id']), 'first-id');
    assert.notEqual(acceptRequestId(undefined), acceptRequestId(undefined));
  });
});
