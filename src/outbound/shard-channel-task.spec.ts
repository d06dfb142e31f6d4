import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupShardChannelOf, shardChannelOf } from '@task-status/client/sharded-layout';
import { shardChannelTaskId } from './shard-channel-task.js';

const of = (channel: string) => shardChannelTaskId(Buffer.from(channel));

describe('shardChannelTaskId', () => {
  it("reads the task id of a task's shard channel, as the layout writes it", () => {
    // Arrange
    const tasks = ['job-1', 'a:b:c', 'x'.repeat(128), '__canary__:gw-1', 'A.b_C-9'];

    // Act + Assert
    for (const taskId of tasks) {
      assert.equal(of(shardChannelOf('task_status_updates', taskId, 1024)), taskId, taskId);
    }
  });

  it('is not misled by braces and colons in the base channel', () => {
    // Act + Assert
    assert.equal(of('app:{1}:updates:{17}:job-1'), 'job-1');
    assert.equal(of('weird}:base:{3}:job:2'), 'job:2');
  });

  it('names no task for a group channel or another channel', () => {
    // Arrange
    const channels = [
      groupShardChannelOf('task_status_updates', 'team-a', 1024),
      'task_status_updates',
      'task_status_updates:{}:job-1',
      'task_status_updates:{1x}:job-1',
      'task_status_updates:7}:job-1',
      '}:',
      '',
    ];

    // Act + Assert
    for (const channel of channels) assert.equal(of(channel), undefined, channel);
  });

  it('gives the empty string for a tag with nothing after it', () => {
    // Act + Assert: the relay then finds no such task and drops the message.
    assert.equal(of('task_status_updates:{5}:'), '');
  });
});
