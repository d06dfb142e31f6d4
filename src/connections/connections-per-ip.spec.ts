import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionsPerIp } from './connections-per-ip.js';

describe('ConnectionsPerIp', () => {
  it('admits up to the limit per address, then refuses', () => {
    // Arrange
    const perIp = new ConnectionsPerIp(2);

    // Act
    const results = [
      perIp.tryAcquire('10.0.0.1'),
      perIp.tryAcquire('10.0.0.1'),
      perIp.tryAcquire('10.0.0.1'),
    ];

    // Assert
    assert.deepEqual(results, [true, true, false]);
    assert.equal(perIp.countOf('10.0.0.1'), 2);
    assert.equal(perIp.isFull('10.0.0.1'), true);
  });

  it('counts addresses separately', () => {
    // Arrange
    const perIp = new ConnectionsPerIp(1);
    perIp.tryAcquire('10.0.0.1');

    // Act
    const other = perIp.tryAcquire('10.0.0.2');

    // Assert
    assert.equal(other, true);
    assert.equal(perIp.addressCount, 2);
  });

  it('frees a slot on release and forgets an address that holds none', () => {
    // Arrange
    const perIp = new ConnectionsPerIp(1);
    perIp.tryAcquire('10.0.0.1');

    // Act
    perIp.release('10.0.0.1');
    const again = perIp.tryAcquire('10.0.0.1');
    perIp.release('10.0.0.1');

    // Assert
    assert.equal(again, true);
    assert.equal(perIp.addressCount, 0);
    assert.equal(perIp.countOf('10.0.0.1'), 0);
  });

  it('ignores a release of an address it does not hold', () => {
    // Arrange
    const perIp = new ConnectionsPerIp(1);

    // Act
    perIp.release('10.0.0.9');

    // Assert
    assert.equal(perIp.addressCount, 0);
  });

  it('admits everything and tracks nothing when the limit is 0', () => {
    // Arrange
    const perIp = new ConnectionsPerIp(0);

    // Act
    const results = Array.from({ length: 5 }, () => perIp.tryAcquire('10.0.0.1'));

    // Assert
    assert.equal(perIp.enabled, false);
    assert.deepEqual(results, [true, true, true, true, true]);
    assert.equal(perIp.isFull('10.0.0.1'), false);
    assert.equal(perIp.addressCount, 0);
  });
});
