import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOriginAllowed } from './origin-policy.js';

const ALLOWED = ['http://localhost:3000', 'https://app.example.com'];

describe('isOriginAllowed', () => {
  it('allows a request without Origin (a non-browser client) even with a list', () => {
    // Act
    const allowed = isOriginAllowed(undefined, ALLOWED);

    // Assert
    assert.equal(allowed, true);
  });

  it('allows every origin when the list is empty', () => {
    // Act
    const allowed = isOriginAllowed('https://anything.example.org', []);

    // Assert
    assert.equal(allowed, true);
  });

  it("allows every origin when the list contains '*'", () => {
    // Act
    const allowed = isOriginAllowed('https://anything.example.org', ['http://localhost:3000', '*']);

    // Assert
    assert.equal(allowed, true);
  });

  it('allows a listed origin', () => {
    // Act
    const allowed = isOriginAllowed('https://app.example.com', ALLOWED);

    // Assert
    assert.equal(allowed, true);
  });

  it('compares case-insensitively on both sides', () => {
    // Act
    const upperOrigin = isOriginAllowed('HTTPS://App.Example.COM', ALLOWED);
    const upperEntry = isOriginAllowed('http://localhost:3000', ['HTTP://LOCALHOST:3000']);

    // Assert
    assert.equal(upperOrigin, true);
    assert.equal(upperEntry, true);
  });

  it('ignores a trailing slash on the origin', () => {
    // Act
    const allowed = isOriginAllowed('http://localhost:3000/', ALLOWED);

    // Assert
    assert.equal(allowed, true);
  });

  it('refuses an origin that is not listed', () => {
    // Act
    const allowed = isOriginAllowed('https://evil.example.com', ALLOWED);

    // Assert
    assert.equal(allowed, false);
  });

  it('refuses a listed host on another port or scheme', () => {
    // Act
    const otherPort = isOriginAllowed('http://localhost:3001', ALLOWED);
    const noPort = isOriginAllowed('http://localhost', ALLOWED);
    const otherScheme = isOriginAllowed('http://app.example.com', ALLOWED);

    // Assert
    assert.equal(otherPort, false);
    assert.equal(noPort, false);
    assert.equal(otherScheme, false);
  });

  it('refuses a listed origin used as a prefix of another host', () => {
    // Act
    const allowed = isOriginAllowed('https://app.example.com.evil.net', ALLOWED);

    // Assert
    assert.equal(allowed, false);
  });

  it('refuses the opaque origin "null" unless the list allows all', () => {
    // Act
    const listed = isOriginAllowed('null', ALLOWED);
    const open = isOriginAllowed('null', []);

    // Assert
    assert.equal(listed, false);
    assert.equal(open, true);
  });

  it('normalizes list entries like the origin (trailing slash, case, surrounding spaces)', () => {
    // Act
    const trailingSlash = isOriginAllowed('http://localhost:3000', ['http://localhost:3000/']);
    const padded = isOriginAllowed('https://app.example.com', ['  HTTPS://APP.EXAMPLE.COM ']);

    // Assert
    assert.equal(trailingSlash, true);
    assert.equal(padded, true);
  });
});
