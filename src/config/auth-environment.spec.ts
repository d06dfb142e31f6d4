import 'reflect-metadata';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { authOptionsFromEnvironment } from './auth-environment.js';
import { InvalidEnvironmentError, parseEnvironment } from './parse-environment.js';

const SECRET = 'a-shared-secret-of-at-least-32-bytes';

function problemsOf(raw: Record<string, string>): string[] {
  try {
    parseEnvironment(raw);
  } catch (error) {
    assert.ok(error instanceof InvalidEnvironmentError, String(error));
    return error.problems;
  }
  assert.fail(`expected InvalidEnvironmentError for ${JSON.stringify(raw)}`);
}

describe('the AUTH_* variables and STATS_TOKEN', () => {
  it('leave authentication off by default', () => {
    // Act
    const options = authOptionsFromEnvironment(parseEnvironment({}));

    // Assert
    assert.deepEqual(options, {
      jwtSecret: undefined,
      jwtPublicKey: undefined,
      jwksUrl: undefined,
      issuer: undefined,
      audience: undefined,
      algorithms: undefined,
      clockToleranceSeconds: undefined,
      tasksClaim: undefined,
      groupsClaim: undefined,
      adminClaim: undefined,
      statsToken: undefined,
    });
  });

  it('map to the module options, lists split on commas', () => {
    // Act
    const options = authOptionsFromEnvironment(
      parseEnvironment({
        AUTH_JWT_SECRET: SECRET,
        AUTH_JWT_ISSUER: 'https://id.example.com/',
        AUTH_JWT_AUDIENCE: 'task-status, dashboard',
        AUTH_JWT_ALGORITHMS: 'HS256,HS512',
        AUTH_CLOCK_TOLERANCE_SECONDS: '0',
        AUTH_TASKS_CLAIM: 'allowed_tasks',
        AUTH_GROUPS_CLAIM: 'projects',
        AUTH_ADMIN_CLAIM: 'roles=gateway-admin',
        STATS_TOKEN: 'a-long-enough-stats-token',
      }),
    );

    // Assert
    assert.deepEqual(options, {
      jwtSecret: SECRET,
      jwtPublicKey: undefined,
      jwksUrl: undefined,
      issuer: 'https://id.example.com/',
      audience: ['task-status', 'dashboard'],
      algorithms: ['HS256', 'HS512'],
      clockToleranceSeconds: 0,
      tasksClaim: 'allowed_tasks',
      groupsClaim: 'projects',
      adminClaim: 'roles=gateway-admin',
      statsToken: 'a-long-enough-stats-token',
    });
  });

  it('accept a PEM written on one line with \\n escapes', () => {
    // Arrange
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();

    // Act
    const options = authOptionsFromEnvironment(
      parseEnvironment({ AUTH_JWT_PUBLIC_KEY: pem.trim().replaceAll('\n', '\\n') }),
    );

    // Assert
    assert.equal(options.jwtPublicKey, pem.trim());
  });

  it('fail the boot for combinations that cannot work, naming the variables', () => {
    assert.deepEqual(problemsOf({ AUTH_JWT_SECRET: SECRET, AUTH_JWKS_URL: 'https://x/jwks' }), [
      'AUTH_JWT_SECRET, AUTH_JWKS_URL: set exactly one key source, not 2',
    ]);
    assert.deepEqual(problemsOf({ AUTH_JWT_SECRET: SECRET, AUTH_JWT_ALGORITHMS: 'none' }), [
      'AUTH_JWT_ALGORITHMS=["none"]: "none" is never accepted: unsigned tokens prove nothing',
    ]);
    assert.deepEqual(problemsOf({ AUTH_JWT_ISSUER: 'https://id.example.com/' }), [
      'AUTH_JWT_ISSUER="https://id.example.com/": has no effect without a key source (a secret, a public key or a JWKS URL): authentication would be off',
    ]);
  });

  it('never show a secret in the error', () => {
    // Act
    const problems = [
      ...problemsOf({ AUTH_JWT_SECRET: 'short-secret' }),
      ...problemsOf({ STATS_TOKEN: 'tiny-token' }),
    ];

    // Assert
    assert.deepEqual(problems, [
      'AUTH_JWT_SECRET="***": must be at least 32 bytes (256 bits)',
      'STATS_TOKEN="***": STATS_TOKEN must be at least 16 characters',
    ]);
  });

  it('reject a malformed admin claim rule or JWKS URL', () => {
    assert.equal(problemsOf({ AUTH_ADMIN_CLAIM: 'a=b=c' })[0]?.split('=')[0], 'AUTH_ADMIN_CLAIM');
    assert.equal(problemsOf({ AUTH_JWKS_URL: 'ftp://x' })[0]?.split('=')[0], 'AUTH_JWKS_URL');
    assert.match(problemsOf({ AUTH_JWKS_URL: 'http://id.example.com/jwks' })[0] ?? '', /https/);
  });
});
