import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JWTPayload } from 'jose';
import { resolveAuthOptions } from './resolve-auth-options.js';
import {
  ClaimTaskAccessPolicy,
  matchesTaskPattern,
  taskPatternsOf,
} from './claim-task-access-policy.js';
import type { Principal } from './principal.js';

const SECRET = 'a-shared-secret-of-at-least-32-bytes';

function principal(claims: JWTPayload): Principal {
  return { subject: claims.sub, claims, expiresAt: undefined };
}

function policy(tasksClaim?: string): ClaimTaskAccessPolicy {
  return new ClaimTaskAccessPolicy(resolveAuthOptions({ jwtSecret: SECRET, tasksClaim }));
}

describe('matchesTaskPattern', () => {
  const cases: Array<[string, string, boolean]> = [
    ['task-1', 'task-1', true],
    ['task-1', 'task-10', false],
    ['task-1', 'task-', false],
    ['*', 'anything:at.all', true],
    ['org-42:*', 'org-42:job-7', true],
    ['org-42:*', 'org-42:', true],
    ['org-42:*', 'org-420:job', false],
    ['org-42:*', 'org-4', false],
    ['org-*', 'org-42:job', true],
    // Only a trailing * is a wildcard; task ids cannot contain *.
    ['org-*:job', 'org-42:job', false],
    ['*-1', 'task-1', false],
  ];
  for (const [pattern, taskId, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${taskId}`, () => {
      assert.equal(matchesTaskPattern(pattern, taskId), expected);
    });
  }
});

describe('taskPatternsOf', () => {
  it('reads an array of strings, skipping anything else', () => {
    assert.deepEqual(taskPatternsOf(['a', 1, '', null, 'org:*', { x: 1 }]), ['a', 'org:*']);
  });

  it('reads a space-separated string', () => {
    assert.deepEqual(taskPatternsOf(' a  org:*\tb '), ['a', 'org:*', 'b']);
  });

  it('reads nothing from a missing or wrongly typed claim', () => {
    for (const claim of [undefined, null, 42, true, { '*': true }]) {
      assert.deepEqual(taskPatternsOf(claim), [], JSON.stringify(claim));
    }
  });
});

describe('ClaimTaskAccessPolicy', () => {
  it('allows the tasks the claim lists, exactly or by prefix', () => {
    // Arrange
    const alice = principal({ sub: 'alice', tasks: ['report-1', 'org-42:*'] });

    // Act / Assert
    assert.equal(policy().canSubscribe(alice, 'report-1'), true);
    assert.equal(policy().canSubscribe(alice, 'org-42:export'), true);
    assert.equal(policy().canSubscribe(alice, 'report-2'), false);
    assert.equal(policy().canSubscribe(alice, 'org-43:export'), false);
  });

  it('allows nothing without the claim', () => {
    assert.equal(policy().canSubscribe(principal({ sub: 'bob' }), 'report-1'), false);
    assert.equal(policy().canSubscribe(principal({ tasks: [] }), 'report-1'), false);
  });

  it('reads the configured claim name only', () => {
    // Arrange
    const claims = principal({ tasks: ['*'], allowed_tasks: ['only-this'] });

    // Act / Assert
    assert.equal(policy('allowed_tasks').canSubscribe(claims, 'only-this'), true);
    assert.equal(policy('allowed_tasks').canSubscribe(claims, 'other'), false);
  });
});

describe('ClaimTaskAccessPolicy: groups', () => {
  it('allows the groups the groups claim lists, exactly or by prefix', () => {
    // Arrange
    const subject = principal({ groups: ['user-7', 'org-42:*'], tasks: ['*'] });
    const groups = policy();

    // Act / Assert
    assert.equal(groups.canSubscribeGroup(subject, 'user-7'), true);
    assert.equal(groups.canSubscribeGroup(subject, 'org-42:team-a'), true);
    assert.equal(groups.canSubscribeGroup(subject, 'user-70'), false);
    assert.equal(groups.canSubscribeGroup(subject, 'org-43:team-a'), false);
  });

  it('does not read the tasks claim for groups, nor the groups claim for tasks', () => {
    const subject = principal({ tasks: ['*'] });
    assert.equal(policy().canSubscribeGroup(subject, 'any'), false);
    assert.equal(policy().canSubscribe(principal({ groups: ['*'] }), 'task-1'), false);
  });

  it('reads the configured groups claim', () => {
    const custom = new ClaimTaskAccessPolicy(
      resolveAuthOptions({ jwtSecret: SECRET, groupsClaim: 'projects' }),
    );
    assert.equal(custom.canSubscribeGroup(principal({ projects: 'p1 p2' }), 'p2'), true);
    assert.equal(custom.canSubscribeGroup(principal({ groups: ['p2'] }), 'p2'), false);
  });
});
