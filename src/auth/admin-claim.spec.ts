import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasAdminClaim } from './admin-claim.js';

describe('hasAdminClaim', () => {
  it('"name" needs the claim to be exactly true', () => {
    assert.equal(hasAdminClaim({ admin: true }, 'admin'), true);
    for (const value of [false, 'true', 1, ['admin'], undefined]) {
      assert.equal(hasAdminClaim({ admin: value }, 'admin'), false, String(value));
    }
  });

  it('"name=value" accepts an equal string, an array holding it, or a scope string holding it', () => {
    assert.equal(hasAdminClaim({ role: 'gateway-admin' }, 'role=gateway-admin'), true);
    assert.equal(
      hasAdminClaim({ roles: ['viewer', 'gateway-admin'] }, 'roles=gateway-admin'),
      true,
    );
    assert.equal(hasAdminClaim({ scope: 'openid gateway:admin' }, 'scope=gateway:admin'), true);
  });

  it('"name=value" refuses other values, partial matches and other types', () => {
    const rule = 'roles=gateway-admin';
    for (const roles of [
      'gateway-admins',
      ['viewer'],
      'viewer gateway',
      true,
      { 'gateway-admin': true },
    ]) {
      assert.equal(hasAdminClaim({ roles }, rule), false, JSON.stringify(roles));
    }
    assert.equal(hasAdminClaim({}, rule), false);
  });
});
