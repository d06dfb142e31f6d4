import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterSlotOf, slotOfPartition } from './cluster-slot.js';

describe('clusterSlotOf', () => {
  it('gives the slots Redis gives (CLUSTER KEYSLOT)', () => {
    // Values from redis-server 7.0: CLUSTER KEYSLOT <name>.
    assert.equal(clusterSlotOf('foo'), 12182);
    assert.equal(clusterSlotOf('123456789'), 12739);
    assert.equal(clusterSlotOf('task_status_updates:{1}:a'), 9842);
  });

  it('hashes only a non-empty hash tag', () => {
    assert.equal(clusterSlotOf('task:status:{7}:x'), clusterSlotOf('{7}'));
    assert.equal(clusterSlotOf('a{}b'), clusterSlotOf('a{}b'));
    assert.notEqual(clusterSlotOf('a{}b'), clusterSlotOf(''));
  });

  it('puts a partition where its channels and keys are', () => {
    assert.equal(slotOfPartition(1), clusterSlotOf('task_status_updates:{1}:any-task'));
    assert.equal(slotOfPartition(1023), clusterSlotOf('task:status:{1023}:other'));
  });
});
