import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { addressKey, clientAddressOf, forwardedAddress } from './client-address.js';

function request(remoteAddress: string | undefined, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage;
}

describe('clientAddressOf', () => {
  it('uses the socket address and ignores X-Forwarded-For when no proxy is trusted', () => {
    // Act
    const address = clientAddressOf(request('203.0.113.7', '198.51.100.1'), 0);

    // Assert
    assert.equal(address, '203.0.113.7');
  });

  it('takes the rightmost X-Forwarded-For entry behind one trusted proxy', () => {
    // Arrange: the client forged the first entry; the proxy appended the address it saw.
    const forged = request('10.0.0.2', '1.1.1.1, 198.51.100.1');

    // Act
    const address = clientAddressOf(forged, 1);

    // Assert
    assert.equal(address, '198.51.100.1');
  });

  it('walks one entry further left per trusted proxy', () => {
    // Act
    const address = clientAddressOf(request('10.0.0.2', '1.1.1.1, 198.51.100.1, 10.0.0.1'), 2);

    // Assert
    assert.equal(address, '198.51.100.1');
  });

  it('falls back to the leftmost entry when there are fewer entries than trusted proxies', () => {
    // Act
    const address = clientAddressOf(request('10.0.0.2', '198.51.100.1'), 3);

    // Assert
    assert.equal(address, '198.51.100.1');
  });

  it('uses the socket address when a trusted proxy sent no X-Forwarded-For', () => {
    // Act
    const address = clientAddressOf(request('10.0.0.2'), 1);

    // Assert
    assert.equal(address, '10.0.0.2');
  });

  it('says unknown for a socket without an address (already closed)', () => {
    // Act
    const address = clientAddressOf(request(undefined), 0);

    // Assert
    assert.equal(address, 'unknown');
  });
});

describe('forwardedAddress', () => {
  it('stops at an entry that is not an IP address', () => {
    // Act
    const address = forwardedAddress('10.0.0.2', '198.51.100.1, not-an-ip', 2);

    // Assert
    assert.equal(address, '10.0.0.2');
  });

  it('strips the ports some proxies write', () => {
    // Act
    const v4 = forwardedAddress('10.0.0.2', '198.51.100.1:54321', 1);
    const v6 = forwardedAddress('10.0.0.2', '[2001:db8::1]:443', 1);

    // Assert
    assert.equal(v4, '198.51.100.1');
    assert.equal(v6, '2001:db8::1');
  });
});

describe('addressKey', () => {
  it('unwraps IPv4-mapped IPv6 addresses', () => {
    assert.equal(addressKey('::ffff:127.0.0.1'), '127.0.0.1');
  });

  it('keeps IPv4 addresses as they are', () => {
    assert.equal(addressKey('203.0.113.7'), '203.0.113.7');
  });

  it('counts IPv6 addresses by their /64, however they are written', () => {
    // Act
    const keys = [
      addressKey('2001:db8:0:1::1'),
      addressKey('2001:0db8:0000:0001:ffff:ffff:ffff:ffff'),
      addressKey('2001:db8:0:1:1:2:3.4.5.6'),
      addressKey('2001:db8:0:1::1%eth0'),
    ];

    // Assert
    assert.deepEqual(new Set(keys), new Set(['2001:db8:0:1::/64']));
    assert.equal(addressKey('2001:db8:0:2::1'), '2001:db8:0:2::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::'), 'fe80:0:0:0::/64');
  });
});
