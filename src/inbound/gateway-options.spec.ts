import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveGatewayOptions } from './gateway-options.js';

describe('resolveGatewayOptions', () => {
  it('fills every option left out with its documented default', () => {
    assert.deepEqual(resolveGatewayOptions({ maxMessageBytes: undefined }), {
      maxMessageBytes: 4096,
      heartbeatIntervalMs: 30_000,
      perMessageDeflate: false,
      rateLimitPerSecond: 20,
      rateLimitBurst: 120,
      rateLimitMaxViolations: 10,
      rateLimitViolationWindowMs: 10_000,
      handshakeTimeoutMs: 10_000,
      shutdownTimeoutMs: 10_000,
      drainWindowMs: 2_000,
    });
  });
});
