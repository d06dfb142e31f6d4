import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupTaskIndex } from './group-task-index.js';

describe('GroupTaskIndex', () => {
  it('records the tasks of each group', () => {
    // Arrange
    const index = new GroupTaskIndex();

    // Act
    index.note('g1', 't1');
    index.note('g1', 't2');
    index.note('g1', 't1');
    index.note('g2', 't3');

    // Assert
    assert.deepEqual([...index.tasksOf('g1')], ['t1', 't2']);
    assert.deepEqual([...index.tasksOf('g2')], ['t3']);
    assert.deepEqual([...index.tasksOf('none')], []);
    assert.equal(index.size, 3);
    assert.ok(index.has('t2'));
    assert.equal(index.has('t9'), false);
  });

  it('moves a task to the group its latest update named', () => {
    const index = new GroupTaskIndex();
    index.note('g1', 't1');

    index.note('g2', 't1');

    assert.deepEqual([...index.tasksOf('g1')], []);
    assert.deepEqual([...index.tasksOf('g2')], ['t1']);
    assert.equal(index.size, 1);
  });

  it('forgets a group with its tasks, and returns them', () => {
    const index = new GroupTaskIndex();
    index.note('g1', 't1');
    index.note('g1', 't2');
    index.note('g2', 't3');

    assert.deepEqual(index.forgetGroup('g1'), ['t1', 't2']);
    assert.deepEqual(index.forgetGroup('g1'), []);

    assert.equal(index.has('t1'), false);
    assert.ok(index.has('t3'));
    assert.equal(index.size, 1);
  });
});
