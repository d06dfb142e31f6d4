import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterNodeCredentials } from './cluster-node-credentials.js';

describe('clusterNodeCredentials', () => {
  it('takes nothing from a URL without credentials, and ignores host, port and db', () => {
    // Act
    const credentials = clusterNodeCredentials('redis://redis.example:6380/3');

    // Assert
    assert.deepEqual(credentials, {});
  });

  it('takes the password of redis://:password@host (requirepass)', () => {
    // Act
    const credentials = clusterNodeCredentials('redis://:s3cret@localhost:6379/0');

    // Assert
    assert.deepEqual(credentials, { password: 's3cret' });
  });

  it('takes an ACL user and its password, percent-decoded', () => {
    // Act
    const credentials = clusterNodeCredentials('redis://gate%40way:p%40ss%3Aw%2Fd@localhost');

    // Assert
    assert.deepEqual(credentials, { username: 'gate@way', password: 'p@ss:w/d' });
  });

  it('turns rediss:// into TLS options, with the credentials', () => {
    // Act
    const tlsOnly = clusterNodeCredentials('rediss://redis.example:6380');
    const withUser = clusterNodeCredentials('rediss://gateway:pw@redis.example:6380');

    // Assert
    assert.deepEqual(tlsOnly, { tls: {} });
    assert.deepEqual(withUser, { username: 'gateway', password: 'pw', tls: {} });
  });

  it('gives no TLS options for redis://', () => {
    // Act
    const credentials = clusterNodeCredentials('redis://u:p@localhost');

    // Assert
    assert.equal('tls' in credentials, false);
  });

  it('refuses another scheme or a malformed URL with a clear error that does not echo the URL', () => {
    // Act + Assert
    assert.throws(
      () => clusterNodeCredentials('http://user:hunter2@localhost'),
      (error: Error) =>
        /must start with redis:\/\/ or rediss:\/\/, not http:\/\//.test(error.message) &&
        !error.message.includes('hunter2'),
    );
    assert.throws(
      () => clusterNodeCredentials('not a url hunter2'),
      (error: Error) =>
        /not a valid redis:\/\/ or rediss:\/\/ URL/.test(error.message) &&
        !error.message.includes('hunter2'),
    );
    assert.throws(
      () => clusterNodeCredentials('redis://:hunter2%zz@localhost'),
      (error: Error) =>
        /password in the Redis URL \(REDIS_URL\) has a malformed %-escape/.test(error.message) &&
        !error.message.includes('hunter2'),
    );
  });
});
