import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import type { TaskStatusAuthOptions } from './auth-options.js';
import {
  AuthConfigurationError,
  checkAuthOptions,
  resolveAuthOptions,
} from './resolve-auth-options.js';

const SECRET = 'a-shared-secret-of-at-least-32-bytes';

function pem(type: 'rsa' | 'ec' | 'ed25519', { bits = 2048, curve = 'P-256' } = {}): string {
  const { publicKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: bits })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: curve })
        : generateKeyPairSync('ed25519');
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** The problems of a configuration, as "option[,option]: reason" strings. */
function problemsOf(options: TaskStatusAuthOptions): string[] {
  return checkAuthOptions(options).problems.map(
    (problem) => `${problem.options.join(',')}: ${problem.reason}`,
  );
}

function assertOneProblem(options: TaskStatusAuthOptions, names: string, reason: RegExp): void {
  const problems = problemsOf(options);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.ok(problems[0].startsWith(`${names}: `), problems[0]);
  assert.match(problems[0], reason);
}

describe('resolveAuthOptions', () => {
  it('is off with the documented defaults when nothing is set', () => {
    // Act
    const resolved = resolveAuthOptions();

    // Assert
    assert.deepEqual(resolved, {
      enabled: false,
      audience: [],
      algorithms: [],
      clockToleranceSeconds: 5,
      tasksClaim: 'tasks',
      groupsClaim: 'groups',
      adminClaim: 'admin',
      jwksCooldownMs: 30_000,
    });
  });

  it('keeps auth off with only a STATS_TOKEN', () => {
    const resolved = resolveAuthOptions({ statsToken: 'sixteen-chars-ok' });
    assert.equal(resolved.enabled, false);
    assert.equal(resolved.statsToken, 'sixteen-chars-ok');
  });

  it('turns on with a secret, allowing HS256 unless told otherwise', () => {
    assert.deepEqual(resolveAuthOptions({ jwtSecret: SECRET }).algorithms, ['HS256']);
    assert.deepEqual(
      resolveAuthOptions({ jwtSecret: SECRET, algorithms: ['HS384', 'HS512'] }).algorithms,
      ['HS384', 'HS512'],
    );
    assert.equal(resolveAuthOptions({ jwtSecret: SECRET }).enabled, true);
  });

  it('takes one audience or several', () => {
    assert.deepEqual(resolveAuthOptions({ jwtSecret: SECRET, audience: 'a' }).audience, ['a']);
    assert.deepEqual(resolveAuthOptions({ jwtSecret: SECRET, audience: ['a', 'b'] }).audience, [
      'a',
      'b',
    ]);
  });

  it('derives the algorithm of a public key from the key', () => {
    assert.deepEqual(resolveAuthOptions({ jwtPublicKey: pem('rsa') }).algorithms, ['RS256']);
    assert.deepEqual(
      resolveAuthOptions({ jwtPublicKey: pem('ec', { curve: 'P-384' }) }).algorithms,
      ['ES384'],
    );
    assert.deepEqual(resolveAuthOptions({ jwtPublicKey: pem('ed25519') }).algorithms, ['EdDSA']);
  });

  it('allows RS256 from a JWKS unless told otherwise', () => {
    const resolved = resolveAuthOptions({
      jwksUrl: 'https://id.example.com/.well-known/jwks.json',
    });
    assert.deepEqual(resolved.algorithms, ['RS256']);
  });

  it('resolves its own output to itself', () => {
    const once = resolveAuthOptions({ jwtSecret: SECRET, audience: 'a', issuer: 'https://i' });
    assert.deepEqual(resolveAuthOptions(once), once);
    assert.deepEqual(resolveAuthOptions(resolveAuthOptions()), resolveAuthOptions());
  });

  it('throws one error naming every problem', () => {
    assert.throws(
      () => resolveAuthOptions({ jwtSecret: 'short', algorithms: ['none'], statsToken: 'x' }),
      (error: unknown) => {
        assert.ok(error instanceof AuthConfigurationError);
        assert.equal(error.problems.length, 3, error.message);
        for (const name of ['auth.jwtSecret', 'auth.algorithms', 'auth.statsToken']) {
          assert.ok(error.message.includes(name), error.message);
        }
        assert.ok(!error.message.includes('short'), 'the secret is not shown');
        return true;
      },
    );
  });
});

describe('checkAuthOptions refuses', () => {
  it('more than one key source', () => {
    assertOneProblem(
      { jwtSecret: SECRET, jwksUrl: 'https://id.example.com/jwks' },
      'jwtSecret,jwksUrl',
      /exactly one key source/,
    );
  });

  it('issuer, audience or algorithms without a key source (auth would silently be off)', () => {
    assertOneProblem(
      { issuer: 'https://i', audience: 'a', algorithms: ['RS256'] },
      'issuer,audience,algorithms',
      /without a key source/,
    );
  });

  it('"none" and unknown algorithms', () => {
    assertOneProblem({ jwtSecret: SECRET, algorithms: ['none'] }, 'algorithms', /never accepted/);
    assertOneProblem({ jwtSecret: SECRET, algorithms: ['NONE'] }, 'algorithms', /never accepted/);
    assertOneProblem({ jwtSecret: SECRET, algorithms: ['HS1024'] }, 'algorithms', /unknown/);
  });

  it('a secret shorter than 32 bytes', () => {
    assertOneProblem({ jwtSecret: 'x'.repeat(31) }, 'jwtSecret', /at least 32 bytes/);
  });

  it('algorithms the key cannot verify', () => {
    assertOneProblem(
      { jwtSecret: SECRET, algorithms: ['HS256', 'RS256'] },
      'algorithms,jwtSecret',
      /RS256 cannot be verified with a shared secret/,
    );
    assertOneProblem(
      { jwtPublicKey: pem('rsa'), algorithms: ['ES256'] },
      'algorithms,jwtPublicKey',
      /ES256 cannot be verified with an RSA key/,
    );
    assertOneProblem(
      { jwtPublicKey: pem('ec', { curve: 'P-256' }), algorithms: ['ES384'] },
      'algorithms,jwtPublicKey',
      /usable: ES256$/,
    );
    assertOneProblem(
      { jwksUrl: 'https://id.example.com/jwks', algorithms: ['HS256'] },
      'algorithms,jwksUrl',
      /public keys only/,
    );
  });

  it('a private key, a non-key and a short RSA key in jwtPublicKey', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assertOneProblem(
      { jwtPublicKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
      'jwtPublicKey',
      /private key/,
    );
    assertOneProblem({ jwtPublicKey: 'not a key' }, 'jwtPublicKey', /not a PEM public key/);
    assertOneProblem(
      { jwtPublicKey: pem('rsa', { bits: 1024 }) },
      'jwtPublicKey',
      /shorter than 2048/,
    );
  });

  it('a JWKS URL in clear text off the loopback, or no URL at all', () => {
    assertOneProblem({ jwksUrl: 'http://id.example.com/jwks' }, 'jwksUrl', /must be https/);
    assertOneProblem({ jwksUrl: 'not a url' }, 'jwksUrl', /not a URL/);
    assert.deepEqual(problemsOf({ jwksUrl: 'http://127.0.0.1:8080/jwks' }), []);
    assert.deepEqual(problemsOf({ jwksUrl: 'http://localhost:8080/jwks' }), []);
  });

  it('bad numbers, claim rules and stats tokens', () => {
    assertOneProblem({ clockToleranceSeconds: -1 }, 'clockToleranceSeconds', /integer from 0/);
    assertOneProblem({ clockToleranceSeconds: 1.5 }, 'clockToleranceSeconds', /integer from 0/);
    assertOneProblem({ jwksCooldownMs: -5 }, 'jwksCooldownMs', /non-negative/);
    assertOneProblem({ adminClaim: 'a=b=c' }, 'adminClaim', /name=value/);
    assertOneProblem({ adminClaim: '' }, 'adminClaim', /name=value/);
    assertOneProblem({ tasksClaim: ' ' }, 'tasksClaim', /claim name/);
    assertOneProblem({ statsToken: 'too-short' }, 'statsToken', /at least 16/);
  });
});
