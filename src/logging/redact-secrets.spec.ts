import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactUrlCredentials } from './redact-secrets.js';

describe('redactUrlCredentials', () => {
  it('masks the password of a URL and keeps the rest', () => {
    assert.equal(
      redactUrlCredentials('REDIS_URL="redis://app:s3cret@redis.internal:6379/0": bad'),
      'REDIS_URL="redis://app:***@redis.internal:6379/0": bad',
    );
  });

  it('masks a password without a user name, and one containing @', () => {
    assert.equal(redactUrlCredentials('rediss://:p@ss@host:6380'), 'rediss://:***@host:6380');
  });

  it('masks every URL of a text and leaves URLs without a password alone', () => {
    assert.equal(
      redactUrlCredentials('a http://u:x@h/p b redis://host:6379/0 c redis://user@host'),
      'a http://u:***@h/p b redis://host:6379/0 c redis://user@host',
    );
  });
});
